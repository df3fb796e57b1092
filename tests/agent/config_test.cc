// The agent's configuration: docs/agent.md's key table is the code's, the
// example config is valid, the TOML overlay and the checks name the key.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "agent/config.h"

namespace edgefleet::agent {
namespace {

std::filesystem::path SourceDir() { return EDGEFLEET_SOURCE_DIR; }

std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(AgentConfig, DocsListEveryKeyWithItsDefaultInOrder) {
  const std::string doc = ReadText(SourceDir() / "docs" / "agent.md");
  const auto section = doc.find("## Configuration");
  ASSERT_NE(section, std::string::npos);
  std::istringstream lines(doc.substr(section));
  const std::regex row(R"(^\| `([a-z_]+)` \| (?:`([^`]*)`|\(unset\)) \| .+ \|$)");
  std::vector<std::pair<std::string, std::string>> documented;
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_match(line, m, row)) documented.emplace_back(m[1].str(), m[2].str());
  }
  ASSERT_EQ(documented.size(), kConfigKeys.size());
  for (std::size_t i = 0; i < kConfigKeys.size(); ++i) {
    EXPECT_EQ(documented[i].first, kConfigKeys[i].name) << i;
    EXPECT_EQ(documented[i].second, kConfigKeys[i].default_value) << kConfigKeys[i].name;
  }
}

TEST(AgentConfig, TheSpecsFlagsAreKeys) {
  for (const char* flag : {"--device-id", "--token", "--server", "--broker", "--source", "--buffer", "--strategy",
                           "--trusted-key", "--model"}) {
    bool found = false;
    for (const auto& key : kConfigKeys) found = found || FlagName(key.name) == flag;
    EXPECT_TRUE(found) << flag;
  }
}

TEST(AgentConfig, TheExampleConfigIsValid) {
  ConfigValues values = DefaultValues();
  auto overlaid = OverlayTomlFile(SourceDir() / "deploy" / "agent.example.toml", values);
  ASSERT_TRUE(overlaid.ok()) << overlaid.error().ToString();
  auto settings = ToSettings(values);
  ASSERT_TRUE(settings.ok()) << settings.error().ToString();
  EXPECT_EQ(settings.value().device_id, "fan-7");
  EXPECT_EQ(settings.value().agent.strategy, StrategyKind::kAdaptive);
  EXPECT_EQ(settings.value().broker_port, 1883);
}

TEST(AgentConfig, DefaultsGiveTheSpecsTimings) {
  ConfigValues values = DefaultValues();
  values["device_id"] = "d1";
  auto s = ToSettings(values);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s.value().agent.escalation_timeout_ms, 5000);
  EXPECT_EQ(s.value().agent.backoff.initial_ms, 60'000);
  EXPECT_EQ(s.value().agent.backoff.max_ms, 30 * 60'000);
  EXPECT_EQ(s.value().agent.strategy_config.periodic_interval_ms, 5 * 60'000);
  EXPECT_EQ(s.value().agent.strategy_config.adaptive_max_interval_ms, 60 * 60'000);
  EXPECT_EQ(s.value().agent.strategy_config.opportunistic_min_battery, 20);
  EXPECT_DOUBLE_EQ(s.value().grid_step_g, 1.0 / 2048.0);
}

TEST(AgentConfig, OtaKeysReachTheEngineConfig) {
  ConfigValues values = DefaultValues();
  values["device_id"] = "d1";
  values["token"] = "t";
  auto d = ToSettings(values);
  ASSERT_TRUE(d.ok()) << d.error().ToString();
  EXPECT_TRUE(d.value().trusted_keys.empty());  // no OTA without a key
  EXPECT_EQ(d.value().ota.check_interval_ms, 5 * 60'000);
  EXPECT_DOUBLE_EQ(d.value().ota.check_jitter, 0.1);
  EXPECT_EQ(d.value().ota.health.period_ms, 10 * 60'000);
  EXPECT_EQ(d.value().ota.health.min_inferences, 20u);
  EXPECT_EQ(d.value().ota.device_ram_mb, 512);
  EXPECT_EQ(d.value().ota.model_dir, "ota");
  ASSERT_TRUE(OverlayTomlText("trusted_key = \"a.pem, b.pem,c.pem\"\nota_dir = \"/x/ota\"\n"
                              "ota_check_interval_ms = 1000\nota_health_period_ms = 50\n"
                              "firmware_version = \"2.1\"\n", values).ok());
  auto s = ToSettings(values);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  const std::vector<std::filesystem::path> keys = {"a.pem", "b.pem", "c.pem"};
  EXPECT_EQ(s.value().trusted_keys, keys);
  EXPECT_EQ(s.value().ota.model_dir, "/x/ota");
  EXPECT_EQ(s.value().ota.check_interval_ms, 1000);
  EXPECT_EQ(s.value().ota.health.period_ms, 50);
  EXPECT_EQ(s.value().ota.device_id, "d1");
  EXPECT_EQ(s.value().ota.token, "t");
  EXPECT_EQ(s.value().ota.firmware_version, "2.1");
  EXPECT_EQ(s.value().ota.server_url, "http://127.0.0.1:8000");
}

TEST(AgentConfig, TomlTypesOverrideAndUnknownKeysAreRefused) {
  ConfigValues values = DefaultValues();
  ASSERT_TRUE(OverlayTomlText("device_id = \"a\"\nsync_budget_bytes = 4096\ngrid_step_g = 0.001\n", values).ok());
  EXPECT_EQ(values["sync_budget_bytes"], "4096");
  auto s = ToSettings(values);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().agent.sync_budget_bytes, 4096u);
  EXPECT_DOUBLE_EQ(s.value().grid_step_g, 0.001);
  auto unknown = OverlayTomlText("devise_id = \"a\"\n", values);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("devise_id"), std::string::npos);
  auto broken = OverlayTomlText("device_id = \n", values);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message().find("line 1"), std::string::npos);
}

TEST(AgentConfig, BadValuesNameTheKeyAndItsFlag) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"device_id", ""},           {"device_id", "a/b"},        {"server", "ftp://x"},
      {"broker", "nohost"},        {"broker", "h:0"},           {"strategy", "sometimes"},
      {"escalation_timeout_ms", "0"}, {"backoff_max_ms", "1000"}, {"sync_budget_bytes", "lots"},
      {"inference_mode", "all"},   {"buffer_durability", "max"}, {"power", "battery"},
      {"batched_hour", "24"},      {"grid_step_g", "nan"},
      {"ota_dir", ""},             {"ota_check_interval_ms", "0"}, {"ota_check_jitter", "0.9"},
      {"ota_chunk_bytes", "1"},    {"ota_retry_max_ms", "1"},   {"ota_health_max_error_rate", "2"},
      {"ota_health_max_latency_ratio", "0.5"}, {"device_ram_mb", "-1"},
  };
  for (const auto& [key, value] : bad) {
    ConfigValues values = DefaultValues();
    values["device_id"] = "d1";
    values[key] = value;
    auto s = ToSettings(values);
    ASSERT_FALSE(s.ok()) << key << "=" << value;
    EXPECT_NE(s.error().message().find(FlagName(key)), std::string::npos) << s.error().message();
  }
}

}  // namespace
}  // namespace edgefleet::agent
