// The MQTT telemetry vocabulary (SPEC section 5): topic names, the payload of
// every message as a struct, its JSON builder and its parser, and the
// inference reporter that samples or aggregates high-rate decisions. The
// agent builds with it, the server's bridge parses with it, tests use both:
// one place, so they agree. docs/mqtt.md documents every topic and field.
//
// Topics (device ids: see IsValidDeviceId):
//   edge-ai/device/{id}/inference    decisions (one, sampled, or a summary)
//   edge-ai/device/{id}/escalation   each escalation: edge mse, cloud result or fallback
//   edge-ai/device/{id}/status       retained, QoS 1, also the last will
//   edge-ai/device/{id}/ota          each OTA state change
// The bridge subscribes to kAllDevicesFilter.
//
// Payloads are one JSON object each. Every payload has "ts" (milliseconds
// since the Unix epoch, the device's clock) and "model_version" (the version
// the device runs, 0 when it runs the built-in default). Builders never fail;
// parsers treat the payload as untrusted (it comes from the network): they
// return kInvalidArgument naming the field for a payload that is not a JSON
// object of the documented shape, a missing required field, a wrong type, a
// non-finite or out-of-range number, or a payload above kMaxPayloadBytes.
// Unknown fields are ignored (newer agents may add fields).
//
// Threads: pure functions; InferenceReporter is a plain value, not
// thread-safe (one per agent, used by its inference loop).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/error.h"

namespace edgefleet::telemetry {

template <typename T>
using Expected = common::Expected<T>;

inline constexpr std::string_view kTopicPrefix = "edge-ai/device/";
inline constexpr std::string_view kAllDevicesFilter = "edge-ai/device/+/#";
inline constexpr std::size_t kMaxPayloadBytes = 64 * 1024;
inline constexpr std::size_t kMaxDeviceIdBytes = 128;

enum class Channel : std::uint8_t { kInference, kEscalation, kStatus, kOta };
const char* ToString(Channel channel);  // "inference", "escalation", "status", "ota"

// A device id usable in topics, ACLs and the broker's password file: 1 to 128
// characters from [A-Za-z0-9._-], not starting with '.' or '-'.
bool IsValidDeviceId(std::string_view id);

// "edge-ai/device/{id}/{channel}". The id must be valid (checked by callers
// at configuration time; an invalid id gives a topic the broker refuses).
std::string Topic(std::string_view device_id, Channel channel);
// "edge-ai/device/{id}/#": the subtree a device may use (its ACL).
std::string DeviceFilter(std::string_view device_id);

struct ParsedTopic {
  std::string device_id;
  Channel channel = Channel::kStatus;
};
// kInvalidArgument unless `topic` is exactly one of the four topics of a
// valid device id.
Expected<ParsedTopic> ParseTopic(std::string_view topic);

// ---- inference -------------------------------------------------------------------

// One local decision. `count` is how many decisions it stands for: 1 when
// every decision is published, N when one in N is (sampling).
struct InferenceMessage {
  std::int64_t ts_ms = 0;
  std::int64_t model_version = 0;
  double mse = 0;
  std::string decision;     // "normal" or "anomaly" (the final label)
  double confidence = 0;    // [0, 1]
  std::int64_t latency_us = 0;
  std::string zone;         // "normal", "ambiguous" or "anomaly"
  bool fallback = false;    // decided locally because the cloud did not answer
  std::int64_t count = 1;   // >= 1

  friend bool operator==(const InferenceMessage&, const InferenceMessage&) = default;
};

// The decisions of one period, when aggregation is configured.
struct InferenceSummary {
  std::int64_t ts_ms = 0;           // the end of the period
  std::int64_t model_version = 0;   // of the last decision in the period
  std::int64_t period_start_ms = 0;
  std::int64_t count = 0;           // decisions in the period, >= 1
  std::int64_t normal = 0;          // final decisions "normal"
  std::int64_t anomaly = 0;         // final decisions "anomaly"
  std::int64_t ambiguous = 0;       // decisions whose zone was ambiguous (escalated)
  std::int64_t fallbacks = 0;
  double mse_mean = 0;
  double mse_max = 0;
  double confidence_min = 0;
  double latency_us_mean = 0;
  std::int64_t latency_us_max = 0;

  friend bool operator==(const InferenceSummary&, const InferenceSummary&) = default;
};

// What the inference topic carries: "kind" is "decision" or "summary".
using InferenceReport = std::variant<InferenceMessage, InferenceSummary>;

std::string ToJson(const InferenceMessage& message);
std::string ToJson(const InferenceSummary& summary);
std::string ToJson(const InferenceReport& report);
Expected<InferenceReport> ParseInference(std::string_view payload);

// How the agent reports decisions on the inference topic.
struct InferencePolicy {
  enum class Mode : std::uint8_t {
    kEvery,      // one message per decision
    kSample,     // one message per `sample_every` decisions (count = sample_every)
    kAggregate,  // one summary per `period_ms`
  };
  Mode mode = Mode::kEvery;
  std::int64_t sample_every = 10;    // kSample: >= 1
  std::int64_t period_ms = 10'000;   // kAggregate: >= 1
  // kSample: anomalies are always published (with count 1, outside the
  // sampling), since they are the decisions an operator watches for.
  bool always_publish_anomalies = true;
};
const char* ToString(InferencePolicy::Mode mode);  // "every", "sample", "aggregate"
Expected<InferencePolicy::Mode> ParseInferenceMode(std::string_view text);

// Samples or aggregates decisions by an InferencePolicy. Pure: the caller
// passes each decision (whose ts_ms is the clock) and publishes what comes
// back. Counts are exact: over any run, the published `count`s (decisions
// and summaries) add up to the decisions seen, once Flush has been called at
// the end.
class InferenceReporter {
 public:
  // An invalid policy (sample_every or period_ms < 1) is clamped to 1.
  explicit InferenceReporter(InferencePolicy policy);

  // The report to publish for this decision, if any. `decision.count` is
  // ignored (the reporter sets it). kAggregate: a summary is returned when
  // this decision lies at or beyond the end of the current period; the
  // decision then starts the next period.
  std::optional<InferenceReport> OnDecision(const InferenceMessage& decision);

  // kAggregate: the summary of the current period if it has ended by `now_ms`
  // (or if `force`), so a quiet device still reports. kSample: with `force`,
  // the decisions not yet published as one message standing for them. kEvery:
  // nothing.
  std::optional<InferenceReport> Flush(std::int64_t now_ms, bool force = false);

  const InferencePolicy& policy() const { return policy_; }

 private:
  InferenceSummary TakeSummary(std::int64_t end_ms);

  InferencePolicy policy_;
  std::int64_t unpublished_ = 0;            // kSample: decisions since the last message
  std::optional<InferenceMessage> last_;    // kSample: the latest unpublished decision
  std::optional<InferenceSummary> summary_; // kAggregate: the open period
  double mse_sum_ = 0;
  double latency_sum_ = 0;
};

// ---- escalation ----------------------------------------------------------------

// The cloud's answer to POST /classify.
struct CloudResult {
  std::string classification;  // "normal" or "anomaly"
  std::int64_t label = 0;      // 0 normal, 1 anomaly
  double confidence = 0;
  double mse = 0;              // the cloud model's score
  std::int64_t latency_ms = 0; // the round trip

  friend bool operator==(const CloudResult&, const CloudResult&) = default;
};

// The local decision taken when the cloud did not answer.
struct Fallback {
  std::string decision;  // "normal" or "anomaly" (the closer threshold)
  std::string reason;    // "timeout", "unreachable", "backoff", "error"

  friend bool operator==(const Fallback&, const Fallback&) = default;
};

struct EscalationMessage {
  std::int64_t ts_ms = 0;
  std::int64_t model_version = 0;
  double edge_mse = 0;
  std::variant<CloudResult, Fallback> outcome;  // "outcome": "cloud" or "fallback"

  friend bool operator==(const EscalationMessage&, const EscalationMessage&) = default;
};

std::string ToJson(const EscalationMessage& message);
Expected<EscalationMessage> ParseEscalation(std::string_view payload);

// ---- status (retained, QoS 1; also the last will) ------------------------------

struct BackoffInfo {
  std::int64_t failures = 0;
  std::int64_t delay_ms = 0;

  friend bool operator==(const BackoffInfo&, const BackoffInfo&) = default;
};

// "online" statuses carry every field. The last will and the clean-shutdown
// message are "offline" and carry at least ts and model_version; the
// optional fields are then omitted when unknown.
struct StatusMessage {
  std::int64_t ts_ms = 0;
  std::int64_t model_version = 0;
  bool online = true;                        // "state": "online" / "offline"
  std::optional<std::int64_t> uptime_s;
  std::optional<std::int64_t> buffer_depth;  // rows pending in the device's buffer
  std::optional<BackoffInfo> backoff;        // the escalation backoff state
  std::optional<std::int64_t> dropped_rows;  // cumulative rows the buffer dropped
  std::string health_json = "{}";            // a JSON object (health statistics)
  std::string firmware_version;              // "" omitted

  friend bool operator==(const StatusMessage&, const StatusMessage&) = default;
};

std::string ToJson(const StatusMessage& message);
Expected<StatusMessage> ParseStatus(std::string_view payload);
// The last-will / shutdown payload: state "offline", ts and model version.
StatusMessage OfflineStatus(std::int64_t ts_ms, std::int64_t model_version);

// ---- ota ------------------------------------------------------------------------

struct OtaMessage {
  std::int64_t ts_ms = 0;
  std::int64_t model_version = 0;   // the version running now
  std::string state;                // pending, downloading, validating, applying, active, rolled_back, failed
  std::int64_t target_version = 0;  // the version being installed
  std::string error;                // "" when none

  friend bool operator==(const OtaMessage&, const OtaMessage&) = default;
};

// The states an OtaMessage may carry (those of POST /api/updates/status).
bool IsValidOtaState(std::string_view state);
std::string ToJson(const OtaMessage& message);
Expected<OtaMessage> ParseOta(std::string_view payload);

}  // namespace edgefleet::telemetry
