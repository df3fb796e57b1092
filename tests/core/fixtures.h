// Test fixtures for the core: artifacts built through the real writer and
// quantizer, synthetic fan-like windows for unit tests (real recordings are
// used by the golden tests), and byte-patching helpers for malformed cases.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/artifact.h"
#include "core/detector.h"
#include "ml/artifact_writer.h"
#include "ml/network.h"

namespace edgefleet::testing {

// Synthetic windows: per axis a rotation tone at `hz` plus noise, around a
// static tilt. Deterministic for a seed.
std::vector<float> FanWindow(float hz, float amplitude, std::uint64_t seed, std::uint32_t window_len = 100);

// Interleaved windows as columns of normalised features (what the network
// sees) for `spec`'s single part, computed by the core's own preprocessing.
Eigen::MatrixXf NormalisedFeatures(const ml::ArtifactSpec& spec, const std::vector<std::vector<float>>& windows);

// A complete single-mode time-domain model of the given widths: normalisation
// and quantization calibrated on `windows`, thresholds from their scores.
struct BuiltModel {
  ml::ArtifactSpec spec;
  ml::FloatNetwork network;
  std::vector<std::uint8_t> bytes;
};
BuiltModel BuildTimeModel(const std::vector<std::vector<float>>& windows, std::vector<int> widths,
                          std::uint64_t seed);

// Spectral model with log-binned features (25 bins per axis) and, when
// `mode_hz` has more than one entry, a mode selector with one part per tone.
BuiltModel BuildSpectralModel(const std::vector<std::vector<float>>& windows,
                              const std::vector<float>& mode_hz, std::uint64_t seed);

// An artifact parsed and a Detector created over an arena of exactly the
// size it needs. `status` says why, if either step failed.
struct LoadedModel {
  core::Status status = core::Status::kOk;
  core::ModelView view;
  std::vector<std::uint64_t> arena;
  core::Detector detector;

  explicit LoadedModel(const std::vector<std::uint8_t>& bytes);
};

// Re-computes the trailing CRC after a test edits bytes, so validation
// behind the CRC check is what gets exercised.
void FixCrc(std::vector<std::uint8_t>& bytes);

template <class T>
void Poke(std::vector<std::uint8_t>& bytes, std::size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

template <class T>
T Peek(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// Offset of the first section with `tag` (its 8-byte header), or 0.
std::size_t FindSection(const std::vector<std::uint8_t>& bytes, std::uint32_t tag);

}  // namespace edgefleet::testing
