// ArtifactSpec and WriteArtifact: build model artifacts (docs/model-format.md)
// on the host. The core only reads artifacts; training, tests and the MCU
// fixture generator write them here, with the heap and the standard library.
//
// WriteArtifact() serialises a spec and then parses the bytes back with the
// core's own parser, so it never hands out an artifact a device would refuse.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/artifact.h"

namespace edgefleet::ml {

struct QuantizedLayer {
  std::uint16_t in = 0;
  std::uint16_t out = 0;
  core::Activation activation = core::Activation::kLinear;
  float input_scale = 1.0f;
  std::int32_t input_zero_point = 0;
  float output_scale = 1.0f;
  std::int32_t output_zero_point = 0;
  std::vector<float> weight_scale;        // [out]
  std::vector<std::int32_t> multiplier;   // [out]
  std::vector<std::int32_t> bias;         // [out], folded (see the format)
  std::vector<std::int8_t> shift;         // [out]
  std::vector<std::int8_t> weights;       // [in * out], input-major: weights[i * out + c]
};

struct SpectrumSpecData {
  float log_floor = 0.0f;
  std::vector<std::uint16_t> edges;  // bin_count + 1

  std::uint32_t bin_count() const {
    return edges.empty() ? 0 : static_cast<std::uint32_t>(edges.size() - 1);
  }
  core::SpectrumSpec View() const;
};

struct ModeSelectorSpec {
  SpectrumSpecData spectrum;
  std::vector<float> inv_scale;               // axes * bin_count
  std::vector<std::vector<float>> centroids;  // one per mode
};

struct PartSpec {
  std::uint32_t network = 0;
  float score_scale = 1.0f;
  std::vector<float> offset;     // feature_count, or axes (per-axis time features)
  std::vector<float> inv_scale;  // same length as offset
};

struct ArtifactSpec {
  std::uint32_t model_version = 1;
  std::string model_id = "edge";
  std::uint32_t window_len = 100;
  std::uint32_t axes = 3;
  std::uint32_t sample_rate_hz = 200;
  core::FeatureKind kind = core::FeatureKind::kTime;
  core::WindowFunction window = core::WindowFunction::kNone;
  SpectrumSpecData spectrum;                 // kind == kSpectrum
  std::optional<ModeSelectorSpec> modes;     // absent: a single mode
  std::vector<std::vector<QuantizedLayer>> networks;
  std::vector<PartSpec> parts;               // one per mode, in mode order
  core::Thresholds thresholds;

  std::uint32_t feature_count() const;
};

struct WriteResult {
  std::vector<std::uint8_t> bytes;
  std::string error;  // empty on success; else why the spec is not valid
  bool ok() const { return error.empty(); }
};

WriteResult WriteArtifact(const ArtifactSpec& spec);

}  // namespace edgefleet::ml
