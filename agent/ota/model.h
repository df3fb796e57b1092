// A model the agent can run: artifact bytes that the core parsed and
// validated, kept in an aligned buffer the model owns, with where they came
// from. The OTA engine hands these to the agent runtime (the activate
// callback, engine.h); the agent builds a core::Detector over bytes() and
// keeps the shared_ptr as long as that Detector lives.
//
// Also: the built-in default model compiled into the binary (the artifact
// tests/data/golden/edge-seed1.efm, turned into a byte array at build time by
// agent/ota/embed.cmake), used when no model on disk is valid; and the two
// artifact edits the OTA path needs (new thresholds; and, for tests and
// tools, a new version number), each recomputing the CRC.
//
// Threads: a Model is immutable after Load and may be shared by threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/ota/record.h"
#include "common/error.h"
#include "core/artifact.h"

namespace edgefleet::ota {

class Model {
 public:
  // Parses `bytes` with the core (magic, CRC, every bound); they must be
  // exactly the artifact (no trailing bytes). kCorrupt naming the core's
  // status otherwise.
  static common::Expected<std::shared_ptr<const Model>> Load(std::string_view bytes, ModelSource source);

  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::uint8_t* bytes() const { return reinterpret_cast<const std::uint8_t*>(storage_.data()); }
  std::size_t size() const { return size_; }
  std::string_view view_bytes() const { return {reinterpret_cast<const char*>(storage_.data()), size_}; }
  const core::ModelView& view() const { return view_; }
  std::int64_t version() const { return view_.model_version; }
  const std::string& sha256() const { return sha256_; }
  ModelSource source() const { return source_; }
  ModelIdentity identity() const { return {source_, version(), sha256_}; }

 private:
  Model() = default;
  std::vector<std::uint64_t> storage_;  // 8-byte aligned copy of the artifact
  std::size_t size_ = 0;
  core::ModelView view_;
  std::string sha256_;
  ModelSource source_ = ModelSource::kBuiltin;
};

// The built-in default model's bytes (always a valid artifact; a test checks).
std::string_view BuiltinModelBytes();
common::Expected<std::shared_ptr<const Model>> BuiltinModel();

// The artifact with its THRS section replaced by `thresholds` and the CRC
// recomputed. kInvalidArgument if the thresholds are not finite and ordered
// (0 <= low <= high, sigma >= 0), kCorrupt if `artifact` does not parse.
common::Expected<std::string> WithThresholds(std::string_view artifact, const core::Thresholds& thresholds);

// The artifact with another model_version and the CRC recomputed.
common::Expected<std::string> WithVersion(std::string_view artifact, std::uint32_t version);

}  // namespace edgefleet::ota
