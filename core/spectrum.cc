#include "core/spectrum.h"

#include <cmath>
#include <initializer_list>

namespace edgefleet::core {
namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559;

Complex Mul(Complex a, Complex b) { return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re}; }

bool Aligned(const void* p, std::size_t alignment) {
  return (reinterpret_cast<std::uintptr_t>(p) & (alignment - 1)) == 0;
}

}  // namespace

Result<FftPlan> FftPlan::Create(std::uint32_t n, void* memory, std::size_t bytes) {
  Result<FftPlan> result;
  if (n == 0 || n > kMaxWindowLen) {
    result.status = Status::kBadArgument;
    return result;
  }
  if (memory == nullptr || !Aligned(memory, alignof(Complex))) {
    result.status = Status::kMisaligned;
    return result;
  }
  if (bytes < RequiredBytes(n)) {
    result.status = Status::kArenaTooSmall;
    return result;
  }
  FftPlan& plan = result.value;
  std::uint32_t rest = n;
  std::size_t count = 0;
  for (std::uint32_t p : {4u, 2u, 3u, 5u}) {
    while (rest % p == 0 && count + 1 < sizeof(plan.factors_)) {
      plan.factors_[count++] = static_cast<std::uint8_t>(p);
      rest /= p;
    }
  }
  if (rest != 1) {
    result.status = Status::kBadArgument;
    return result;
  }
  auto* twiddles = static_cast<Complex*>(memory);
  for (std::uint32_t j = 0; j < n; ++j) {
    const double angle = -kTwoPi * j / n;
    twiddles[j] = {static_cast<float>(std::cos(angle)), static_cast<float>(std::sin(angle))};
  }
  // Digit reversal in the mixed radix: input j goes to the block of its
  // residue at each level (decimation in time).
  auto* slots = reinterpret_cast<std::uint16_t*>(twiddles + n);
  for (std::uint32_t j = 0; j < n; ++j) {
    std::uint32_t digits = j;
    std::uint32_t index = 0;
    std::uint32_t block = n;
    for (const std::uint8_t* f = plan.factors_; *f != 0; ++f) {
      block /= *f;
      index += (digits % *f) * block;
      digits /= *f;
    }
    slots[j] = static_cast<std::uint16_t>(index);
  }
  plan.n_ = n;
  plan.twiddles_ = twiddles;
  plan.slots_ = slots;
  return result;
}

// Decimation in time, one radix per level: the p sub-sequences
// x[q], x[q + p], ... are transformed into consecutive blocks of m = n / p,
// then combined by p-point DFTs. `stride` is N / n, which turns the top
// level's twiddle table into this level's.
void FftPlan::Transform(Complex* data, std::uint32_t n, std::uint32_t stride,
                        const std::uint8_t* factors) const {
  const std::uint32_t p = factors[0];
  if (p == 0) return;  // n == 1
  const std::uint32_t m = n / p;
  for (std::uint32_t q = 0; q < p; ++q) Transform(data + q * m, m, stride * p, factors + 1);
  const std::uint32_t step = n_ / p;  // W_p = W_N^(N/p)
  // q*r mod p for the p-point DFT, p <= 5: a table instead of a division.
  std::uint32_t rotation[5][5];
  for (std::uint32_t q = 0; q < p; ++q) {
    for (std::uint32_t r = 0; r < p; ++r) rotation[q][r] = ((q * r) % p) * step;
  }
  Complex t[5];
  for (std::uint32_t k = 0; k < m; ++k) {
    // q * k * stride < p * m * stride = N: always inside the table.
    for (std::uint32_t q = 0; q < p; ++q) t[q] = Mul(data[q * m + k], twiddles_[q * k * stride]);
    for (std::uint32_t r = 0; r < p; ++r) {
      Complex sum = t[0];
      for (std::uint32_t q = 1; q < p; ++q) {
        const Complex w = twiddles_[rotation[q][r]];
        const Complex x = Mul(t[q], w);
        sum.re += x.re;
        sum.im += x.im;
      }
      data[r * m + k] = sum;
    }
  }
}

std::size_t SpectrumExtractor::RequiredBytes(std::uint32_t window_len) {
  return FftPlan::RequiredBytes(window_len) + window_len * sizeof(Complex);
}

Result<SpectrumExtractor> SpectrumExtractor::Create(std::uint32_t window_len, std::uint32_t axes,
                                                    WindowFunction window, void* memory,
                                                    std::size_t bytes) {
  Result<SpectrumExtractor> result;
  if (axes == 0 || axes > kMaxAxes) {
    result.status = Status::kBadArgument;
    return result;
  }
  if (bytes < RequiredBytes(window_len)) {
    result.status = Status::kArenaTooSmall;
    return result;
  }
  auto plan = FftPlan::Create(window_len, memory, FftPlan::RequiredBytes(window_len));
  if (!plan.ok()) {
    result.status = plan.status;
    return result;
  }
  result.value.plan_ = plan.value;
  result.value.axes_ = axes;
  result.value.window_ = window;
  result.value.work_ = reinterpret_cast<Complex*>(static_cast<std::uint8_t*>(memory) +
                                                  FftPlan::RequiredBytes(window_len));
  return result;
}

void SpectrumExtractor::Magnitudes(const float* window, std::uint32_t axis, float* magnitudes) const {
  const std::uint32_t n = plan_.size();
  float mean = 0.0f;
  for (std::uint32_t i = 0; i < n; ++i) mean += window[i * axes_ + axis];
  mean /= static_cast<float>(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    float v = window[i * axes_ + axis] - mean;
    if (window_ == WindowFunction::kHann) v *= 0.5f - 0.5f * plan_.Cos(i);
    work_[plan_.slot(i)] = {v, 0.0f};
  }
  plan_.Forward(work_);
  const float inv_n = 1.0f / static_cast<float>(n);
  for (std::uint32_t k = 0; k < bins(); ++k) {
    magnitudes[k] = std::sqrt(work_[k].re * work_[k].re + work_[k].im * work_[k].im) * inv_n;
  }
}

void SpectrumExtractor::Bin(const float* magnitudes, const SpectrumSpec& spec, float* features) {
  for (std::uint32_t j = 0; j < spec.bin_count; ++j) {
    float sum = 0.0f;
    for (std::uint32_t k = spec.edges[j]; k < spec.edges[j + 1]; ++k) sum += magnitudes[k];
    const float v = sum / static_cast<float>(spec.edges[j + 1] - spec.edges[j]);
    features[j] = spec.log_floor > 0.0f ? std::log(spec.log_floor + v) : v;
  }
}

void SpectrumExtractor::Features(const float* window, const SpectrumSpec& spec, float* magnitudes,
                                 float* features) const {
  for (std::uint32_t a = 0; a < axes_; ++a) {
    Magnitudes(window, a, magnitudes);
    Bin(magnitudes, spec, features + a * spec.bin_count);
  }
}

}  // namespace edgefleet::core
