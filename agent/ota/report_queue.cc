#include "agent/ota/report_queue.h"

#include <nlohmann/json.hpp>

#include "common/json_number.h"

namespace edgefleet::ota {
namespace {

using common::Error;
using common::ErrorCode;
using nlohmann::json;

}  // namespace

std::string ReportToJson(const Report& r, const std::string& device_id) {
  json j = {{"device_id", device_id},
            {"status", r.status},
            {"version", r.version},
            {"error", r.error.empty() ? json(nullptr) : json(r.error)},
            {"seq", r.seq},
            {"target_version", r.target_version},
            {"state", r.state},
            {"timestamp", static_cast<double>(r.time_ms) / 1000.0}};
  return j.dump();
}

std::string ReportToMqttJson(const Report& r) {
  json j = {{"ts", r.time_ms},
            {"model_version", r.version},
            {"state", r.status},
            {"target_version", r.target_version},
            {"error", r.error},
            {"seq", r.seq},
            {"ota_state", r.state}};
  return j.dump();
}

common::Expected<void> ReportQueue::Parse(std::string_view text) {
  reports_.clear();
  try {
    const json j = json::parse(text);
    next_seq_ = common::JsonInteger<std::uint64_t>(j.at("next_seq"));
    dropped_ = common::JsonInteger<std::uint64_t>(j.at("dropped"));
    for (const json& e : j.at("reports")) {
      Report r;
      r.seq = common::JsonInteger<std::uint64_t>(e.at("seq"));
      r.status = e.at("status").get<std::string>();
      r.state = e.at("state").get<std::string>();
      r.version = common::JsonInteger<std::int64_t>(e.at("version"));
      r.target_version = common::JsonInteger<std::int64_t>(e.at("target_version"));
      r.error = e.at("error").get<std::string>();
      r.time_ms = common::JsonInteger<std::int64_t>(e.at("time_ms"));
      r.http_done = e.at("http_done").get<bool>();
      r.mqtt_done = e.at("mqtt_done").get<bool>();
      reports_.push_back(std::move(r));
    }
  } catch (const json::exception& e) {
    reports_.clear();
    return Error(ErrorCode::kCorrupt, std::string("OTA report queue does not parse: ") + e.what());
  }
  return common::Ok();
}

void ReportQueue::Push(Report report) {
  report.seq = next_seq_++;
  report.http_done = false;
  report.mqtt_done = false;
  reports_.push_back(std::move(report));
  while (reports_.size() > kMaxQueuedReports) {
    reports_.pop_front();
    ++dropped_;
  }
}

bool ReportQueue::Deliver(const ReportSink& http, const ReportSink& mqtt) {
  bool changed = false;
  bool http_blocked = false;
  bool mqtt_blocked = false;
  for (Report& r : reports_) {
    if (!r.http_done && !http_blocked) {
      if (!http || http(r)) {
        r.http_done = true;
        changed = true;
      } else {
        http_blocked = true;
      }
    }
    if (!r.mqtt_done && !mqtt_blocked) {
      if (!mqtt || mqtt(r)) {
        r.mqtt_done = true;
        changed = true;
      } else {
        mqtt_blocked = true;
      }
    }
  }
  while (!reports_.empty() && reports_.front().http_done && reports_.front().mqtt_done) reports_.pop_front();
  return changed;
}

std::string ReportQueue::Serialize() const {
  json list = json::array();
  for (const Report& r : reports_) {
    list.push_back({{"seq", r.seq},
                    {"status", r.status},
                    {"state", r.state},
                    {"version", r.version},
                    {"target_version", r.target_version},
                    {"error", r.error},
                    {"time_ms", r.time_ms},
                    {"http_done", r.http_done},
                    {"mqtt_done", r.mqtt_done}});
  }
  const json j = {{"next_seq", next_seq_}, {"dropped", dropped_}, {"reports", list}};
  return j.dump();
}

}  // namespace edgefleet::ota
