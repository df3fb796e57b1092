// The network/battery providers: sysfs over a fake tree in a temporary
// directory, and the scripted provider's format.
#include "agent/platform/power.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace edgefleet::agent {
namespace {

namespace fs = std::filesystem;

class SysfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("power_test_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "class" / "power_supply");
    fs::create_directories(root_ / "class" / "net");
  }
  void TearDown() override { fs::remove_all(root_); }
  void Put(const fs::path& rel, const std::string& text) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << text << "\n";
  }
  PowerState Read() {
    SysfsPowerProvider p(root_);
    auto s = p.Read(0);
    EXPECT_TRUE(s.ok());
    return s.value();
  }
  fs::path root_;
};

TEST_F(SysfsTest, NothingIsNoNetworkAndNoBattery) {
  Put("class/net/lo/operstate", "unknown");
  Put("class/net/lo/carrier", "1");
  const PowerState s = Read();
  EXPECT_EQ(s.network, NetworkType::kNone);
  EXPECT_FALSE(s.battery_percent.has_value());
  // A tree without the folders at all reads the same.
  EXPECT_EQ(SysfsPowerProvider(root_ / "missing").Read(0).value(), PowerState{});
}

TEST_F(SysfsTest, BatteryCapacityAndStatus) {
  Put("class/power_supply/AC/type", "Mains");
  Put("class/power_supply/AC/online", "0");
  Put("class/power_supply/BAT0/type", "Battery");
  Put("class/power_supply/BAT0/capacity", "37");
  Put("class/power_supply/BAT0/status", "Discharging");
  PowerState s = Read();
  EXPECT_EQ(s.battery_percent, 37);
  EXPECT_FALSE(s.charging);
  Put("class/power_supply/AC/online", "1");
  EXPECT_TRUE(Read().charging);
  Put("class/power_supply/AC/online", "0");
  Put("class/power_supply/BAT0/status", "Charging");
  EXPECT_TRUE(Read().charging);
  Put("class/power_supply/BAT0/capacity", "garbage");
  EXPECT_FALSE(Read().battery_percent.has_value());
}

TEST_F(SysfsTest, WifiBeatsEthernetBeatsCellular) {
  Put("class/net/wwan0/operstate", "up");
  EXPECT_EQ(Read().network, NetworkType::kCellular);
  Put("class/net/usb0/operstate", "up");
  Put("class/net/usb0/uevent", "DEVTYPE=wwan\nINTERFACE=usb0");
  Put("class/net/eth0/operstate", "down");
  EXPECT_EQ(Read().network, NetworkType::kCellular);
  Put("class/net/eth0/operstate", "unknown");
  Put("class/net/eth0/carrier", "1");
  EXPECT_EQ(Read().network, NetworkType::kEthernet);
  Put("class/net/wlan0/operstate", "up");
  fs::create_directories(root_ / "class/net/wlan0/wireless");
  EXPECT_EQ(Read().network, NetworkType::kWifi);
  // phy80211 marks a wireless link as well; a link that is down does not count.
  Put("class/net/wlan0/operstate", "dormant");
  Put("class/net/wlp2s0/operstate", "up");
  fs::create_directories(root_ / "class/net/wlp2s0/phy80211");
  EXPECT_EQ(Read().network, NetworkType::kWifi);
}

TEST(ScriptedPowerTest, ReplaysByTime) {
  auto p = ScriptedPowerProvider::Parse(
      "# a commute\n"
      "0 wifi 80 charging\n"
      "3600 cellular 75   # left home\n"
      "7200.5 none -\n",
      1000);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->Read(0).value(), (PowerState{NetworkType::kWifi, 80, true}));  // before the start
  EXPECT_EQ(p->Read(1000 + 3'599'999).value().network, NetworkType::kWifi);
  EXPECT_EQ(p->Read(1000 + 3'600'000).value(), (PowerState{NetworkType::kCellular, 75, false}));
  EXPECT_EQ(p->Read(1000 + 7'200'500).value(), (PowerState{NetworkType::kNone, std::nullopt, false}));
}

TEST(ScriptedPowerTest, MalformedScriptsNameTheLine) {
  for (const char* bad : {"", "# only a comment\n", "0 wifi\n", "0 lte 50\n", "0 wifi 101\n", "0 wifi -1\n",
                          "0 wifi 50 maybe\n", "0 wifi 50 charging extra\n", "10 wifi 50\n5 wifi 50\n",
                          "-1 wifi 50\n", "x wifi 50\n", "0 wifi 5x\n"}) {
    auto p = ScriptedPowerProvider::Parse(bad, 0);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.error().code(), common::ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(ScriptedPowerProvider::Parse("0 wifi 5\n1 lte 5\n", 0).error().message().find("line 2"),
            std::string::npos);
  EXPECT_EQ(ScriptedPowerProvider::Load("/nonexistent/power.txt", 0).error().code(), common::ErrorCode::kNotFound);
}

}  // namespace
}  // namespace edgefleet::agent
