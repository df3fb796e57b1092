// The OTA engine's persisted record: everything an attempt needs to resume
// after a crash or power loss, as one small JSON file (ota-state.json in the
// model directory) that is only ever replaced whole (Filesystem::
// WriteFileAtomically: temp, fsync, rename, fsync the directory).
//
// Format: a JSON object with "schema" (kRecordSchema). A newer schema, a
// file that does not parse, or a field of the wrong type is refused by
// ParseRecord with kCorrupt, and the engine starts from a fresh idle record
// (the model on disk is then chosen by its own validity, never by the
// record). Field meanings are below; docs/ota.md lists the files.
//
// Threads: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/ota/report_queue.h"
#include "agent/ota/state.h"
#include "common/error.h"

namespace edgefleet::ota {

inline constexpr int kRecordSchema = 1;

// Where a running model came from.
enum class ModelSource : std::uint8_t { kBuiltin = 0, kDisk, kBackup };
const char* ToString(ModelSource source);

// What an attempt installs: a whole model, or new thresholds for the model
// that runs (GET /model/thresholds, applied by rewriting its THRS section).
enum class UpdateKind : std::uint8_t { kModel = 0, kThresholds };

struct ModelIdentity {
  ModelSource source = ModelSource::kBuiltin;
  std::int64_t version = 0;
  std::string sha256;
};

struct Record {
  State state = State::kIdle;
  std::uint64_t attempt = 0;        // increases with every accepted offer
  UpdateKind kind = UpdateKind::kModel;

  // The offer (kind model): the manifest as received and verified, and the
  // artifact's own signature (X-Edgefleet-Signature of /model/download).
  std::string manifest_json;        // canonical manifest bytes
  std::string manifest_signature;   // base64
  std::string artifact_signature;   // base64, learnt from the first download response
  std::string etag;                 // of the first download response, sent as If-Range
  std::int64_t target_version = 0;
  std::string target_sha256;
  std::uint64_t target_size = 0;
  // The offer (kind thresholds): the body of /model/thresholds and its signature.
  std::string thresholds_json;
  std::string thresholds_signature;

  std::uint64_t downloaded = 0;     // bytes of download.part that are fsynced and counted

  // A download that ended `failed` on the network (retries or deadline) keeps
  // download.part: the next offer of the same artifact resumes from here.
  std::string resume_sha256;
  std::uint64_t resume_offset = 0;
  std::string resume_etag;

  ModelIdentity previous;           // what ran when the offer was accepted: the rollback target

  // Bookkeeping that bounds every attempt.
  std::int64_t state_entered_ms = 0;
  std::int64_t state_deadline_ms = 0;
  std::uint32_t retries = 0;        // failed tries in the current state
  std::int64_t next_try_ms = 0;     // earliest time of the next try
  std::uint32_t transitions = 0;    // in this attempt
  std::uint32_t restarts = 0;       // unclean restarts in this attempt
  bool clean_shutdown = false;      // set by Shutdown(), cleared at Open

  // Health check.
  std::int64_t health_started_ms = 0;
  double baseline_latency_ms = 0;   // the previous model's mean latency (0: unknown)
  double baseline_escalation = 0;   // and its escalation rate

  std::string last_error;           // why the last attempt failed or rolled back
  std::vector<std::string> refused; // sha256 (or "thr:" + sha of the body) refused for good; newest last
  std::int64_t next_check_ms = 0;

  // The reports not yet delivered: in the record, so that a state and the
  // report of entering it are made durable by the same atomic write.
  ReportQueue reports;
};

std::string SerializeRecord(const Record& record);
common::Expected<Record> ParseRecord(std::string_view json);

}  // namespace edgefleet::ota
