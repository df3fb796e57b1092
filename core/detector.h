// Detector: runs a parsed model artifact on raw windows with int8 arithmetic.
//
// Prepare once, run many (as TensorFlow Lite Micro does): Create() checks the
// arena and decodes what the hot loop needs; Run() only computes. The caller
// owns both the artifact bytes and the arena, and must keep them alive and
// unmodified for the detector's lifetime. Run() uses the arena as scratch, so
// one Detector serves one thread at a time; it is cheap to copy the view and
// create another over a second arena.
//
// A window is window_len samples of `axes` values, interleaved
// (x0, y0, z0, x1, ...), in g as the sensor reports them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/artifact.h"
#include "core/decision.h"
#include "core/spectrum.h"
#include "core/status.h"

namespace edgefleet::core {

namespace kernels {
struct KernelSet;
}  // namespace kernels

// Largest magnitude a window value may have (in g; MEMS accelerometers span
// +-16 g). Larger, infinite or NaN values make Run() return kBadInput.
inline constexpr float kMaxInputMagnitude = 1000.0f;

// Per-axis means of an interleaved window, in the fixed summation order the
// detector uses (training calls this too, so both agree to the bit).
void AxisMeans(const float* window, std::uint32_t window_len, std::uint32_t axes, float* means);

// Bytes of arena a Detector for `model` needs.
std::size_t RequiredArenaBytes(const ModelView& model);

// Which implementation of the int8 kernels a Detector runs. All compute the
// same integers, bit for bit (the same int8 activations and int32
// accumulators); the float MSE may differ in the last bits between them,
// because the output layer's sum of squares is added in another order.
enum class KernelIsa : std::uint8_t {
  kAuto = 0,   // the fastest this CPU supports, chosen once in Create()
  kPortable,   // plain C++ loops, every target (what a microcontroller runs)
  kAvx2,       // x86-64 with AVX2
};

// Whether this build and this CPU can run `isa` (kAuto and kPortable always).
bool KernelIsaSupported(KernelIsa isa);

struct Inference {
  float mse = 0.0f;       // reconstruction MSE of the selected part
  float score = 0.0f;     // mse * the part's score_scale: what thresholds apply to
  std::uint32_t mode = 0; // operating mode recognised from the signal
  TierDecision decision;
};

class Detector {
 public:
  Detector() = default;

  // `arena` must be 8-byte aligned. `isa` other than kAuto forces a kernel
  // implementation (tests compare them); kBadArgument if it is not supported.
  static Result<Detector> Create(const ModelView& model, void* arena, std::size_t arena_bytes,
                                 KernelIsa isa = KernelIsa::kAuto);

  // Preprocesses, runs the mode's int8 network, scores and decides.
  // kBadInput if count != window_values() or any value is not finite or
  // beyond kMaxInputMagnitude.
  Result<Inference> Run(const float* window, std::size_t count);

  // The recognised mode and the normalised features (feature_count floats,
  // valid until the next call) that the network sees: the float reference and
  // the training pipeline use these to stay bit-identical with the device.
  Result<std::uint32_t> Preprocess(const float* window, std::size_t count, const float** features);

  const ModelView& model() const { return model_; }

  // The kernels Create() chose: kPortable or kAvx2, never kAuto.
  KernelIsa isa() const { return isa_; }

 private:
  float RunNetwork(std::uint32_t network, const float* z);
  std::uint32_t SelectMode(const float* window);

  ModelView model_;
  const kernels::KernelSet* kernels_ = nullptr;  // a static table, chosen in Create()
  KernelIsa isa_ = KernelIsa::kPortable;
  SpectrumExtractor spectrum_;
  LayerView* layers_ = nullptr;   // every network's layers, decoded once
  std::uint32_t first_layer_[kMaxNetworks] = {};
  float* features_ = nullptr;     // [feature_count]
  float* magnitudes_ = nullptr;   // [window_len / 2 + 1]
  float* mode_features_ = nullptr;  // [axes * modes.spectrum.bin_count]
  bool same_bins_ = false;        // the selector's bins are the features' bins
  std::int8_t* act_a_ = nullptr;  // [max width]
  std::int8_t* act_b_ = nullptr;  // [max width]
};

}  // namespace edgefleet::core
