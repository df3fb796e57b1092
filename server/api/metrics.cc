#include "server/api/metrics.h"

namespace edgefleet::server::api {
namespace {

template <typename T>
void Sample(std::string& out, const char* name, const char* type, const char* help, const std::atomic<T>& v,
            const char* labels = "") {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
  out += name;
  out += labels;
  out += ' ';
  out += std::to_string(v.load(std::memory_order_relaxed));
  out += '\n';
}

}  // namespace

std::string ApiMetrics::Render() const {
  std::string out;
  out.reserve(4096);
  out +=
      "# HELP edgefleet_classify_total Windows the cloud model classified, by label.\n"
      "# TYPE edgefleet_classify_total counter\n";
  out += "edgefleet_classify_total{label=\"normal\"} " + std::to_string(classify_normal.load()) + "\n";
  out += "edgefleet_classify_total{label=\"anomaly\"} " + std::to_string(classify_anomaly.load()) + "\n";
  Sample(out, "edgefleet_classify_rejected_total", "counter", "Classify requests answered with a 4xx.",
         classify_rejected);
  Sample(out, "edgefleet_escalations_queued_total", "counter", "Escalations handed to the background writer.",
         escalations_queued);
  Sample(out, "edgefleet_escalations_stored_total", "counter", "Escalations committed to the store.",
         escalations_stored);
  Sample(out, "edgefleet_escalations_dropped_total", "counter",
         "Escalations the store refused after they were answered (see the log).", escalations_dropped);
  Sample(out, "edgefleet_escalations_overflow_total", "counter",
         "Classify requests refused with 503 because the writer's queue was full.", escalations_overflow);
  Sample(out, "edgefleet_escalation_batches_total", "counter", "Transactions the background writer committed.",
         escalation_batches);
  Sample(out, "edgefleet_escalation_queue_depth", "gauge", "Escalations waiting for the background writer.",
         escalation_queue_depth);
  Sample(out, "edgefleet_escalation_log_bytes_total", "counter", "Bytes appended to the escalation JSON-lines log.",
         escalation_log_bytes);
  Sample(out, "edgefleet_escalation_log_errors_total", "counter",
         "Failed writes or fsyncs of the escalation log.", escalation_log_errors);
  Sample(out, "edgefleet_escalation_log_rotations_total", "counter", "Rotations of the escalation log.",
         escalation_log_rotations);
  Sample(out, "edgefleet_auth_failures_total", "counter", "Requests refused with 401 or 403.", auth_failures);
  Sample(out, "edgefleet_auth_cache_misses_total", "counter",
         "Token checks that went to the database.", auth_cache_misses);
  Sample(out, "edgefleet_model_downloads_total", "counter", "Artifact downloads started (200 and 206).",
         model_downloads);
  Sample(out, "edgefleet_models_published_total", "counter", "Models published through the API.",
         models_published);
  out +=
      "# HELP edgefleet_update_checks_total Update checks, by whether an update was offered.\n"
      "# TYPE edgefleet_update_checks_total counter\n";
  out += "edgefleet_update_checks_total{offered=\"true\"} " + std::to_string(update_checks_offered.load()) + "\n";
  out += "edgefleet_update_checks_total{offered=\"false\"} " + std::to_string(update_checks_none.load()) + "\n";
  Sample(out, "edgefleet_update_status_reports_total", "counter", "OTA status reports received.",
         update_status_reports);
  Sample(out, "edgefleet_sync_batches_total", "counter", "Sync batches ingested.", sync_batches);
  Sample(out, "edgefleet_sync_rows_stored_total", "counter", "Synced rows newly stored.", sync_rows_stored);
  Sample(out, "edgefleet_latest_model_version", "gauge", "The model version the server offers (0: none).",
         latest_model_version);
  return out;
}

}  // namespace edgefleet::server::api
