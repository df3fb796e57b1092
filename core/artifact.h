// The model artifact: a versioned, little-endian byte layout that carries
// everything a device needs to turn a raw vibration window into a decision.
// docs/model-format.md is the normative description; this header mirrors it.
//
// ParseArtifact() validates every field and bound of a buffer once and returns
// a ModelView: small, fixed-size, and pointing into the caller's buffer (no
// copy, so an artifact can be used in place from flash). The buffer must stay
// alive and unchanged while any view or Detector built from it is in use.
// Nothing is read outside [data, data + size), whatever the bytes are.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/status.h"

namespace edgefleet::core {

// ---- format constants -------------------------------------------------------

inline constexpr std::uint8_t kArtifactMagic[4] = {'E', 'F', 'M', 'D'};
inline constexpr std::uint16_t kFormatVersion = 1;
inline constexpr std::size_t kHeaderSize = 48;
inline constexpr std::size_t kSectionHeaderSize = 8;
inline constexpr std::size_t kModelIdSize = 16;

// Section tags: four ASCII characters read as a little-endian u32.
constexpr std::uint32_t SectionTag(char a, char b, char c, char d) {
  return static_cast<std::uint32_t>(static_cast<std::uint8_t>(a)) |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(b)) << 8 |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(c)) << 16 |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(d)) << 24;
}
inline constexpr std::uint32_t kTagPreprocessing = SectionTag('P', 'R', 'E', 'P');
inline constexpr std::uint32_t kTagModeSelector = SectionTag('M', 'O', 'D', 'E');
inline constexpr std::uint32_t kTagNetwork = SectionTag('N', 'E', 'T', 'W');
inline constexpr std::uint32_t kTagPart = SectionTag('P', 'A', 'R', 'T');
inline constexpr std::uint32_t kTagThresholds = SectionTag('T', 'H', 'R', 'S');

// Bounds every parser enforces (docs/model-format.md, "Limits").
inline constexpr std::uint32_t kMaxWindowLen = 256;  // samples per axis
inline constexpr std::uint32_t kMaxAxes = 4;
inline constexpr std::uint32_t kMaxFeatures = 1024;
inline constexpr std::uint32_t kMaxLayerWidth = 1024;
inline constexpr std::uint32_t kMaxLayers = 8;
inline constexpr std::uint32_t kMaxNetworks = 8;
inline constexpr std::uint32_t kMaxModes = 8;
inline constexpr std::uint32_t kMaxBins = 64;  // spectral bins per axis
inline constexpr std::uint32_t kMaxSections = 1 + 1 + kMaxNetworks + kMaxModes + 1;
inline constexpr std::size_t kMaxArtifactSize = 4u << 20;

// ---- parsed view ------------------------------------------------------------

enum class FeatureKind : std::uint32_t {
  kTime = 1,      // the window's samples, each axis minus its window mean
  kSpectrum = 2,  // per axis: |FFT| of the mean-removed window, binned, optionally log
};

enum class WindowFunction : std::uint32_t { kNone = 0, kHann = 1 };

enum class Activation : std::uint8_t { kLinear = 0, kRelu = 1 };

// How a spectrum is reduced to features: bins [edges[j], edges[j+1]) of the
// one-sided magnitude spectrum (indices 0 .. window_len/2) are averaged; the
// result is log(log_floor + v) when log_floor > 0, else v itself.
struct SpectrumSpec {
  std::uint32_t bin_count = 0;
  float log_floor = 0.0f;
  const std::uint16_t* edges = nullptr;  // bin_count + 1 entries, increasing
};

struct PreprocessingView {
  FeatureKind kind = FeatureKind::kTime;
  WindowFunction window = WindowFunction::kNone;  // applied before every FFT
  std::uint32_t feature_count = 0;
  SpectrumSpec spectrum;  // kind == kSpectrum only
};

// Recognises the operating mode (for the fan: off, low, medium, high) from
// the signal: nearest centroid in a scaled log-spectrum feature space.
struct ModeSelectorView {
  std::uint32_t mode_count = 1;  // 1: no selector section, every window is mode 0
  SpectrumSpec spectrum;
  const float* inv_scale = nullptr;  // axes * bin_count
  const float* centroids = nullptr;  // mode_count rows of axes * bin_count
};

struct LayerView {
  std::uint16_t in = 0;
  std::uint16_t out = 0;
  Activation activation = Activation::kLinear;
  float input_scale = 0.0f;
  std::int32_t input_zero_point = 0;
  float output_scale = 0.0f;
  std::int32_t output_zero_point = 0;
  const float* weight_scale = nullptr;    // [out]: per output channel, symmetric
  const std::int32_t* multiplier = nullptr;  // [out]: Q31 requantization multiplier
  const std::int32_t* bias = nullptr;     // [out]: folded, see docs/model-format.md
  const std::int8_t* shift = nullptr;     // [out]: power-of-two exponent
  const std::int8_t* weights = nullptr;   // [in][out]: input-major, row per input
};

struct NetworkView {
  std::uint32_t layer_count = 0;
  const std::uint8_t* first_layer = nullptr;  // decode with GetLayer()
};

// One operating mode's detector: its normalisation, its network and the factor
// that makes its score comparable across modes.
//
// Normalisation is z[i] = (f[i] - offset[k]) * inv_scale[k] with k = i when
// norm_count == feature_count, or k = i % axes when norm_count == axes (time
// features: every sample of an axis shares one scale).
struct PartView {
  std::uint32_t network = 0;
  float score_scale = 1.0f;           // score = reconstruction MSE * score_scale
  std::uint32_t norm_count = 0;       // feature_count, or axes for time features
  const float* offset = nullptr;      // [norm_count]
  const float* inv_scale = nullptr;   // [norm_count]
};

// Decision thresholds on the score (SPEC section 2): by default
// low = mu + k_low * sigma and high = mu + k_high * sigma.
struct Thresholds {
  float mu = 0.0f;
  float sigma = 0.0f;
  float k_low = 2.0f;
  float k_high = 4.0f;
  float low = 0.0f;
  float high = 0.0f;
};

struct ModelView {
  std::uint16_t format_version = 0;
  std::uint32_t model_version = 0;
  char model_id[kModelIdSize + 1] = {};  // NUL-terminated copy
  std::uint32_t window_len = 0;          // samples per axis
  std::uint32_t axes = 0;
  std::uint32_t sample_rate_hz = 0;
  PreprocessingView preprocessing;
  ModeSelectorView modes;
  std::uint32_t part_count = 0;          // == modes.mode_count
  PartView parts[kMaxModes];
  std::uint32_t network_count = 0;
  NetworkView networks[kMaxNetworks];
  Thresholds thresholds;
  std::uint32_t crc32 = 0;
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;                  // total_size from the header

  std::uint32_t window_values() const { return window_len * axes; }
};

// Validates `data` as an artifact. `size` may exceed the artifact's
// total_size (for example a flash partition); bytes past it are ignored.
// `data` must be 4-byte aligned (arrays are read in place).
Result<ModelView> ParseArtifact(const std::uint8_t* data, std::size_t size);

// Decodes layer `index` (< network.layer_count) of a network of a parsed view.
LayerView GetLayer(const NetworkView& network, std::uint32_t index);

// Bytes of one encoded layer with the given shape (header and arrays, padded).
std::size_t EncodedLayerSize(std::uint32_t in, std::uint32_t out);

}  // namespace edgefleet::core
