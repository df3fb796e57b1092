#include "agent/platform/power.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace edgefleet::agent {

using common::Error;
using common::ErrorCode;
using common::Expected;

const char* ToString(NetworkType type) {
  switch (type) {
    case NetworkType::kNone: return "none";
    case NetworkType::kWifi: return "wifi";
    case NetworkType::kEthernet: return "ethernet";
    case NetworkType::kCellular: return "cellular";
  }
  return "none";
}

Expected<NetworkType> ParseNetworkType(std::string_view text) {
  for (const NetworkType t : {NetworkType::kNone, NetworkType::kWifi, NetworkType::kEthernet, NetworkType::kCellular}) {
    if (text == ToString(t)) return t;
  }
  return Error(ErrorCode::kInvalidArgument, "unknown network type '" + std::string(text) + "'");
}

namespace {

namespace fs = std::filesystem;

// The first line of a small sysfs file, trimmed; "" when unreadable.
std::string ReadAttr(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return {};
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

std::vector<fs::path> Entries(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) out.push_back(it->path());
  std::sort(out.begin(), out.end());  // deterministic: the first battery by name
  return out;
}

bool ParseInt(std::string_view s, int& out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

Expected<PowerState> SysfsPowerProvider::Read(std::int64_t /*now_ms*/) {
  PowerState state;
  for (const fs::path& supply : Entries(root_ / "class" / "power_supply")) {
    const std::string type = ReadAttr(supply / "type");
    if (type == "Battery" && !state.battery_percent) {
      int capacity = 0;
      if (ParseInt(ReadAttr(supply / "capacity"), capacity)) {
        state.battery_percent = std::clamp(capacity, 0, 100);
        const std::string status = ReadAttr(supply / "status");
        if (status == "Charging" || status == "Full") state.charging = true;
      }
    } else if ((type == "Mains" || type == "USB") && ReadAttr(supply / "online") == "1") {
      state.charging = true;
    }
  }
  bool wifi = false;
  bool ethernet = false;
  bool cellular = false;
  for (const fs::path& link : Entries(root_ / "class" / "net")) {
    const std::string name = link.filename().string();
    if (name == "lo") continue;
    const std::string oper = ReadAttr(link / "operstate");
    if (!(oper == "up" || (oper == "unknown" && ReadAttr(link / "carrier") == "1"))) continue;
    std::error_code ec;
    if (fs::exists(link / "wireless", ec) || fs::exists(link / "phy80211", ec)) {
      wifi = true;
      continue;
    }
    bool wwan = name.rfind("wwan", 0) == 0;
    std::ifstream uevent(link / "uevent");
    for (std::string line; std::getline(uevent, line);) {
      if (line == "DEVTYPE=wwan") wwan = true;
    }
    (wwan ? cellular : ethernet) = true;
  }
  state.network = wifi ? NetworkType::kWifi
                  : ethernet ? NetworkType::kEthernet
                  : cellular ? NetworkType::kCellular
                             : NetworkType::kNone;
  return state;
}

Expected<ScriptedPowerProvider> ScriptedPowerProvider::Parse(std::string_view text, std::int64_t start_ms) {
  std::vector<Entry> entries;
  std::istringstream in{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string at, network, battery, charging, extra;
    if (!(fields >> at)) continue;  // blank or comment
    auto bad = [&](const std::string& why) {
      return Error(ErrorCode::kInvalidArgument, "power script line " + std::to_string(number) + ": " + why);
    };
    if (!(fields >> network >> battery)) return bad("expected <seconds> <network> <battery|->");
    fields >> charging;
    if (fields >> extra) return bad("too many fields");
    Entry e;
    double seconds = 0;
    const auto r = std::from_chars(at.data(), at.data() + at.size(), seconds);
    if (r.ec != std::errc() || r.ptr != at.data() + at.size() || !(seconds >= 0) || seconds > 1e12) {
      return bad("the time must be a non-negative number of seconds");
    }
    e.at_ms = static_cast<std::int64_t>(seconds * 1000.0);
    if (!entries.empty() && e.at_ms <= entries.back().at_ms) return bad("times must increase");
    auto net = ParseNetworkType(network);
    if (!net.ok()) return bad("the network must be wifi, ethernet, cellular or none");
    e.state.network = net.value();
    if (battery != "-") {
      int percent = 0;
      if (!ParseInt(battery, percent) || percent < 0 || percent > 100) return bad("the battery must be 0..100 or -");
      e.state.battery_percent = percent;
    }
    if (charging == "charging") {
      e.state.charging = true;
    } else if (!charging.empty() && charging != "discharging") {
      return bad("the last field must be charging or discharging");
    }
    entries.push_back(e);
  }
  if (entries.empty()) return Error(ErrorCode::kInvalidArgument, "the power script has no states");
  return ScriptedPowerProvider(std::move(entries), start_ms);
}

Expected<ScriptedPowerProvider> ScriptedPowerProvider::Load(const std::filesystem::path& path, std::int64_t start_ms) {
  std::ifstream in(path);
  if (!in) return Error(ErrorCode::kNotFound, "cannot read the power script " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().size() > (1u << 20)) return Error(ErrorCode::kInvalidArgument, "the power script is over 1 MiB");
  return Parse(text.str(), start_ms);
}

Expected<PowerState> ScriptedPowerProvider::Read(std::int64_t now_ms) {
  const std::int64_t t = now_ms - start_ms_;
  // The last entry at or before t (the first before the script starts).
  auto it = std::upper_bound(entries_.begin(), entries_.end(), t,
                             [](std::int64_t v, const Entry& e) { return v < e.at_ms; });
  if (it == entries_.begin()) return entries_.front().state;
  return std::prev(it)->state;
}

}  // namespace edgefleet::agent
