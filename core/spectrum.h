// Spectral features computed on the device in fixed, caller-owned memory.
//
// FftPlan is a mixed-radix (2, 3, 4, 5) complex FFT of one length, its twiddle
// table held in memory the caller provides. SpectrumExtractor turns one axis
// of an interleaved window into the one-sided magnitude spectrum and reduces
// it to the bins a SpectrumSpec declares. The ML pipeline calls these same
// functions, so training and devices compute identical features.
//
// Everything that depends only on the length and the window function (the
// twiddles, the input permutation, the window's coefficients) is computed once
// in Create(); a transform only reads it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/artifact.h"
#include "core/status.h"

namespace edgefleet::core {

struct Complex {
  float re = 0.0f;
  float im = 0.0f;
};

class FftPlan {
 public:
  // Bytes of caller memory a plan of length n needs: its twiddle table and
  // its input permutation.
  static constexpr std::size_t RequiredBytes(std::uint32_t n) {
    return n * sizeof(Complex) + ((n * sizeof(std::uint16_t) + 7u) & ~std::size_t{7});
  }

  // n must factor into 2, 3 and 5 and be at most kMaxWindowLen. `memory` must
  // be aligned for float and hold RequiredBytes(n).
  static Result<FftPlan> Create(std::uint32_t n, void* memory, std::size_t bytes);

  std::uint32_t size() const { return n_; }

  // In-place forward transform X[k] = sum_j x[j] e^{-2 pi i jk/n}, with the
  // input already stored in transform order: x[j] at data[slot(j)]. (Callers
  // fill the buffer in that order anyway, so no scratch copy is needed.)
  // The output X[k] is at data[k].
  void Forward(Complex* data) const;

  std::uint32_t slot(std::uint32_t j) const { return slots_[j]; }

  // cos(2 pi j / n) and sin(2 pi j / n), from the twiddle table.
  float Cos(std::uint32_t j) const { return twiddles_[j % n_].re; }

 private:
  std::uint32_t n_ = 0;
  std::uint32_t levels_ = 0;
  std::uint8_t factors_[16] = {};  // radices, top level first, 0-terminated
  const Complex* twiddles_ = nullptr;  // e^{-2 pi i j / n}, j < n
  const std::uint16_t* slots_ = nullptr;  // digit-reversed input positions
};

// Computes per-axis magnitude spectra of windows of one shape.
//
// An even-length window, real as it is, is transformed as a complex sequence
// of half its length (even samples as real parts, odd ones as imaginary
// parts), and the two interleaved half spectra are separated afterwards: about
// half the arithmetic of a full-length complex FFT. Odd lengths take the full
// complex FFT.
class SpectrumExtractor {
 public:
  static std::size_t RequiredBytes(std::uint32_t window_len);

  static Result<SpectrumExtractor> Create(std::uint32_t window_len, std::uint32_t axes,
                                          WindowFunction window, void* memory, std::size_t bytes);

  std::uint32_t window_len() const { return n_; }
  std::uint32_t bins() const { return n_ / 2 + 1; }  // one-sided

  // Magnitude spectrum of axis `axis` of an interleaved window
  // (window[i * axes + axis]), mean removed, window function applied, scaled
  // by 1/n. Writes bins() values to `magnitudes`.
  void Magnitudes(const float* window, std::uint32_t axis, float* magnitudes) const;

  // Reduces a magnitude spectrum to spec.bin_count features.
  static void Bin(const float* magnitudes, const SpectrumSpec& spec, float* features);

  // Magnitudes + Bin for every axis: axes * spec.bin_count features, axis-major.
  // `magnitudes` is scratch of bins() floats.
  void Features(const float* window, const SpectrumSpec& spec, float* magnitudes, float* features) const;

 private:
  FftPlan plan_;                     // of n_ / 2 when n_ is even, else of n_
  std::uint32_t n_ = 0;
  std::uint32_t axes_ = 0;
  const Complex* unzip_ = nullptr;   // e^{-2 pi i k / n_}, k < n_ / 2 (even n_ only)
  const float* window_ = nullptr;    // [n_]: the window function, 1 for none
  Complex* work_ = nullptr;          // [plan_.size()]
};

}  // namespace edgefleet::core
