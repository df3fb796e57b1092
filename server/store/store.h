// Store: everything the server keeps, behind one interface with two back
// ends (SPEC section 1: SQLite by default, PostgreSQL for several replicas).
//
// What it is for: the HTTP API, the rollout controller, ingestion and
// retraining read and write devices, admin tokens, models, escalations, OTA
// status history and synced device data only through this interface. The
// schema, the migrations, the durability settings and the idempotency rules
// are in docs/storage.md.
//
// Contract:
//   - Every method is one database transaction: it happens entirely or not at
//     all, and returns an Error (never throws, never crashes) when it does not.
//     Input is validated before anything is written; bad input is
//     kInvalidArgument naming the field.
//   - Values reach the database only as bound statement parameters.
//   - Times are milliseconds since the Unix epoch, supplied by the caller (the
//     store reads no clock), so tests run on simulated time.
//   - Tokens are never stored: callers pass the SHA-256 (64 lowercase hex
//     digits) of a token, see common::Sha256Hex.
//   - Errors: kNotFound for a missing device/model, kAlreadyExists for a
//     duplicate, kUnauthenticated for a credential that does not match,
//     kUnavailable when the database cannot be reached or stays locked past
//     the busy timeout, kCorrupt for a database that fails its checks,
//     kFailedPrecondition for a database whose schema is newer than this code.
//
// Ownership and threads: OpenStore returns the sole owner of the store. All
// methods are thread-safe: any number of threads may call any methods
// concurrently; each call checks a connection out of a small pool (see
// StoreOptions). Other processes (the CLI on the same --data-dir, other
// server replicas on PostgreSQL) may use the same database at the same time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/sync_batch.h"

namespace edgefleet::store {

template <typename T>
using Expected = common::Expected<T>;

using sync::kWindowValues;  // 300 values a window (SPEC section 2)

// Limits applied to every input (kInvalidArgument beyond them).
inline constexpr std::size_t kMaxIdBytes = 128;           // device ids, model ids
inline constexpr std::size_t kMaxShortTextBytes = 256;    // filenames, versions, hashes, decisions
inline constexpr std::size_t kMaxErrorTextBytes = 4096;   // OTA error messages
inline constexpr std::size_t kMaxJsonBytes = 64 * 1024;   // health statistics
inline constexpr std::size_t kMaxBatchRows = 10'000;      // per kind in one IngestBatch

// ---- devices ------------------------------------------------------------------

struct BackoffState {
  std::int64_t failures = 0;   // consecutive cloud failures; 0 = not backing off
  std::int64_t delay_ms = 0;   // the current wait

  friend bool operator==(const BackoffState&, const BackoffState&) = default;
};

struct DeviceCounters {
  std::int64_t rows_synced = 0;   // rows newly stored by IngestBatch, all kinds
  std::int64_t escalations = 0;   // escalations stored by InsertEscalation
  std::int64_t fallbacks = 0;     // inference rows newly stored with fallback = true
  std::int64_t dropped_rows = 0;  // the device's own count of rows its buffer dropped (reported)

  friend bool operator==(const DeviceCounters&, const DeviceCounters&) = default;
};

struct Device {
  std::string id;
  std::string token_sha256;
  std::int64_t created_ms = 0;
  std::optional<std::int64_t> last_seen_ms;  // unset: never seen
  // What the device last reported running; never what it was told to install.
  std::optional<std::int64_t> reported_model_version;
  std::string firmware_version;              // "" until reported
  std::optional<std::int64_t> ram_mb;
  DeviceCounters counters;
  std::int64_t buffer_depth = 0;             // rows pending in the device's buffer, as reported
  BackoffState backoff;
  std::string health_json = "{}";            // the latest health statistics, a JSON object

  friend bool operator==(const Device&, const Device&) = default;
};

// What a device says about itself (update checks, MQTT status, sync). Unset
// fields keep their stored values. last_seen becomes max(last_seen, seen_ms).
struct DeviceReport {
  std::int64_t seen_ms = 0;
  std::optional<std::int64_t> model_version;
  std::optional<std::string> firmware_version;
  std::optional<std::int64_t> ram_mb;
  std::optional<std::int64_t> buffer_depth;
  std::optional<BackoffState> backoff;
  std::optional<std::int64_t> dropped_rows;  // the device's cumulative count
  std::optional<std::string> health_json;    // a JSON object
};

// ---- models ---------------------------------------------------------------------

// published: offered to devices. halted: never offered (a rollout halted it).
// released: an operator released a halted model; offered again.
// Transitions: published -> halted, halted -> released, released -> halted;
// setting the current status again is a no-op.
enum class ModelStatus : std::uint8_t { kPublished, kHalted, kReleased };

const char* ToString(ModelStatus status);  // "published", "halted", "released"
Expected<ModelStatus> ParseModelStatus(std::string_view text);

struct ModelThresholds {
  double low = 0;   // mu + k_low * sigma
  double high = 0;  // mu + k_high * sigma; low <= high
  double mu = 0;
  double sigma = 0;  // >= 0
  double k_low = 2;
  double k_high = 4;

  friend bool operator==(const ModelThresholds&, const ModelThresholds&) = default;
};

struct Model {
  std::int64_t version = 0;  // >= 1; each published version is above every earlier one
  std::string model_id;
  std::string filename;      // the artifact's file name under the server's data dir
  std::int64_t size_bytes = 0;
  std::string sha256;        // 64 lowercase hex digits of the artifact
  std::string signature;     // base64 Ed25519 signature of the artifact
  std::int64_t min_device_ram_mb = 0;
  std::string min_firmware_version;
  ModelThresholds thresholds;
  std::int64_t created_ms = 0;
  ModelStatus status = ModelStatus::kPublished;  // ignored by PublishModel

  friend bool operator==(const Model&, const Model&) = default;
};

// ---- escalations ------------------------------------------------------------------

struct Escalation {
  std::int64_t id = 0;  // assigned by InsertEscalation; increasing
  std::string device_id;
  std::int64_t received_ms = 0;
  std::vector<float> features;  // kWindowValues finite values
  double edge_mse = 0;
  std::int64_t model_version = 0;
  double cloud_mse = 0;
  std::int64_t label = 0;  // 0 normal, 1 anomaly
  double confidence = 0;   // [0, 1]
  bool archived = false;   // used by a retraining already

  friend bool operator==(const Escalation&, const Escalation&) = default;
};

// Escalations with after_id < id <= through_id, unarchived only unless
// include_archived.
struct EscalationRange {
  std::int64_t after_id = 0;
  std::int64_t through_id = std::numeric_limits<std::int64_t>::max();
  bool include_archived = false;
};

// ---- OTA update status ------------------------------------------------------------

enum class UpdateStatus : std::uint8_t {
  kPending, kDownloading, kValidating, kApplying, kActive, kRolledBack, kFailed,
};

// The API's spelling: "pending", "downloading", ..., "rolled_back", "failed".
const char* ToString(UpdateStatus status);
Expected<UpdateStatus> ParseUpdateStatus(std::string_view text);

struct UpdateStatusReport {
  std::string device_id;
  UpdateStatus status = UpdateStatus::kPending;
  std::int64_t version = 0;
  std::string error;  // "" when none
  std::int64_t reported_ms = 0;
};

struct UpdateStatusEntry {
  std::int64_t id = 0;  // increasing in the order entries were recorded
  UpdateStatus status = UpdateStatus::kPending;
  std::int64_t version = 0;
  std::string error;
  std::int64_t reported_ms = 0;

  friend bool operator==(const UpdateStatusEntry&, const UpdateStatusEntry&) = default;
};

// ---- sync ingestion -----------------------------------------------------------------
// The row types are common/sync_batch.h's, shared with the agent.

using sync::InferenceRow;
using sync::HardSampleRow;
using sync::HealthRow;
using sync::SyncBatch;
using sync::SeqAck;
using sync::IngestResult;

// ---- the store ------------------------------------------------------------------------

class Store {
 public:
  virtual ~Store() = default;

  virtual std::string_view backend() const = 0;  // "sqlite" or "postgresql"
  virtual Expected<int> SchemaVersion() = 0;

  // Devices. AddDevice: kAlreadyExists for a known id. AuthenticateDevice:
  // kUnauthenticated when the id is unknown or the hash differs (the same
  // error for both; the comparison is constant-time).
  virtual Expected<void> AddDevice(std::string_view id, std::string_view token_sha256,
                                   std::int64_t created_ms) = 0;
  virtual Expected<void> AuthenticateDevice(std::string_view id, std::string_view token_sha256) = 0;
  virtual Expected<Device> GetDevice(std::string_view id) = 0;
  virtual Expected<std::vector<Device>> ListDevices() = 0;  // by id
  virtual Expected<void> RecordDeviceReport(std::string_view id, const DeviceReport& report) = 0;

  // Admin tokens, by hash. AuthenticateAdmin: kUnauthenticated if unknown.
  virtual Expected<void> AddAdminToken(std::string_view token_sha256, std::string_view label,
                                       std::int64_t created_ms) = 0;
  virtual Expected<void> AuthenticateAdmin(std::string_view token_sha256) = 0;

  // Models. PublishModel stores `model` as published: kAlreadyExists if its
  // version exists, kConflict if it is below the highest existing version.
  // LatestPublishedModel: the highest version that is published or released
  // (kNotFound if none). SetModelStatus: kFailedPrecondition for a
  // transition the table above does not allow.
  virtual Expected<void> PublishModel(const Model& model) = 0;
  virtual Expected<Model> GetModel(std::int64_t version) = 0;
  virtual Expected<Model> LatestPublishedModel() = 0;
  virtual Expected<std::vector<Model>> ListModels() = 0;  // by version
  virtual Expected<void> SetModelStatus(std::int64_t version, ModelStatus status) = 0;

  // Escalations (POST /classify). InsertEscalation returns the new id and
  // counts it on the device (kNotFound for an unknown device).
  // ArchiveEscalations marks the given ids archived and returns how many were
  // not archived before; unknown ids are ignored.
  virtual Expected<std::int64_t> InsertEscalation(const Escalation& escalation) = 0;
  // Several escalations in one transaction (the API's background writer):
  // every one is validated first, then all are stored or none (kNotFound
  // naming the first unknown device). Ids in input order. At most
  // kMaxBatchRows.
  virtual Expected<std::vector<std::int64_t>> InsertEscalations(std::span<const Escalation> batch) = 0;
  virtual Expected<std::int64_t> CountEscalations(const EscalationRange& range) = 0;
  virtual Expected<std::vector<Escalation>> ListEscalations(const EscalationRange& range,
                                                            std::size_t limit) = 0;  // by id
  virtual Expected<std::int64_t> ArchiveEscalations(std::span<const std::int64_t> ids) = 0;

  // OTA status history. RecordUpdateStatus appends the report unless the
  // device's latest entry has the same (status, version, error), in which case
  // it changes nothing; it returns whether it appended. So A, A, B, A records
  // A, B, A. LatestUpdateStatus: kNotFound when the device has no entry.
  virtual Expected<bool> RecordUpdateStatus(const UpdateStatusReport& report) = 0;
  virtual Expected<UpdateStatusEntry> LatestUpdateStatus(std::string_view device_id) = 0;
  virtual Expected<std::vector<UpdateStatusEntry>> UpdateHistory(std::string_view device_id) = 0;

  // Sync. IngestBatch validates the whole batch (kInvalidArgument for any bad
  // row or a sequence number repeated within one kind, and then nothing is
  // stored), then stores it in one transaction and says exactly which rows
  // were new. It also sets last_seen to received_ms (if later), adds the new
  // rows to rows_synced and the new fallback inference rows to fallbacks.
  virtual Expected<IngestResult> IngestBatch(std::string_view device_id, const SyncBatch& batch,
                                             std::int64_t received_ms) = 0;
  // Stored rows with seq > after_seq, by seq, at most `limit`.
  virtual Expected<std::vector<InferenceRow>> ListInferenceRows(std::string_view device_id,
                                                                std::int64_t after_seq,
                                                                std::size_t limit) = 0;
  virtual Expected<std::vector<HardSampleRow>> ListHardSamples(std::string_view device_id,
                                                               std::int64_t after_seq,
                                                               std::size_t limit) = 0;
  virtual Expected<std::vector<HealthRow>> ListHealthRows(std::string_view device_id,
                                                          std::int64_t after_seq,
                                                          std::size_t limit) = 0;
};

struct StoreOptions {
  // Connections kept by the pool; a call waits when all are in use.
  std::size_t max_connections = 8;
  // SQLite: how long a statement waits for another process's lock before
  // failing with kUnavailable.
  std::chrono::milliseconds busy_timeout{5000};
};

// Opens (creating if needed) and migrates the store named by `url`:
//   sqlite:PATH                  a SQLite file (its directory must exist)
//   postgresql://... postgres://...  a libpq connection URI
// kInvalidArgument for any other form; kFailedPrecondition if the database's
// schema is newer than this code.
Expected<std::unique_ptr<Store>> OpenStore(const std::string& url, const StoreOptions& options = {});

// The schema version this code writes (the last migration's number).
int LatestSchemaVersion();

}  // namespace edgefleet::store
