#include "core/spectrum.h"

#include <cmath>
#include <initializer_list>

namespace edgefleet::core {
namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559;

bool Aligned(const void* p, std::size_t alignment) {
  return (reinterpret_cast<std::uintptr_t>(p) & (alignment - 1)) == 0;
}

Complex Add(Complex a, Complex b) { return {a.re + b.re, a.im + b.im}; }
Complex Sub(Complex a, Complex b) { return {a.re - b.re, a.im - b.im}; }
Complex Scale(float s, Complex a) { return {s * a.re, s * a.im}; }
Complex Mul(Complex a, Complex b) { return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re}; }
Complex MulMinusI(Complex a) { return {a.im, -a.re}; }  // -i a

// The p-point DFTs y[r] = sum_q t[q] W_p^(qr), W_p = e^{-2 pi i / p}, with the
// roots' symmetries folded in by hand (a generic p x p product costs about
// three times the multiplications of radix 5's).
constexpr float kSin60 = 0.866025403784438646763723f;   // sin(2 pi / 3)
constexpr float kCos72 = 0.309016994374947424102293f;   // cos(2 pi / 5)
constexpr float kSin72 = 0.951056516295153572116439f;   // sin(2 pi / 5)
constexpr float kCos144 = -0.809016994374947424102293f; // cos(4 pi / 5)
constexpr float kSin144 = 0.587785252292473129168706f;  // sin(4 pi / 5)

inline void Dft2(Complex* t) {
  const Complex a = t[0];
  t[0] = Add(a, t[1]);
  t[1] = Sub(a, t[1]);
}

inline void Dft3(Complex* t) {
  const Complex sum = Add(t[1], t[2]);
  const Complex a = Sub(t[0], Scale(0.5f, sum));
  const Complex b = MulMinusI(Scale(kSin60, Sub(t[1], t[2])));
  t[0] = Add(t[0], sum);
  t[1] = Add(a, b);
  t[2] = Sub(a, b);
}

inline void Dft4(Complex* t) {
  const Complex s02 = Add(t[0], t[2]);
  const Complex d02 = Sub(t[0], t[2]);
  const Complex s13 = Add(t[1], t[3]);
  const Complex d13 = MulMinusI(Sub(t[1], t[3]));
  t[0] = Add(s02, s13);
  t[1] = Add(d02, d13);
  t[2] = Sub(s02, s13);
  t[3] = Sub(d02, d13);
}

inline void Dft5(Complex* t) {
  const Complex s14 = Add(t[1], t[4]);
  const Complex d14 = Sub(t[1], t[4]);
  const Complex s23 = Add(t[2], t[3]);
  const Complex d23 = Sub(t[2], t[3]);
  const Complex p1 = Add(t[0], Add(Scale(kCos72, s14), Scale(kCos144, s23)));
  const Complex p2 = Add(t[0], Add(Scale(kCos144, s14), Scale(kCos72, s23)));
  const Complex q1 = MulMinusI(Add(Scale(kSin72, d14), Scale(kSin144, d23)));
  const Complex q2 = MulMinusI(Sub(Scale(kSin144, d14), Scale(kSin72, d23)));
  t[0] = Add(t[0], Add(s14, s23));
  t[1] = Add(p1, q1);
  t[4] = Sub(p1, q1);
  t[2] = Add(p2, q2);
  t[3] = Sub(p2, q2);
}

// One level of the decimation in time: `count` consecutive blocks of p * m
// values, each holding p transformed sub-sequences of length m, become
// transforms of length p * m. Element k of sub-sequence q is twiddled by
// W^(q k stride) of the plan's table (k = 0 needs none), then the p-point
// DFT scatters it back to positions k, m + k, ...
template <std::uint32_t kRadix>
inline void Dft(Complex* t) {
  if constexpr (kRadix == 2) {
    Dft2(t);
  } else if constexpr (kRadix == 3) {
    Dft3(t);
  } else if constexpr (kRadix == 4) {
    Dft4(t);
  } else {
    Dft5(t);
  }
}

template <std::uint32_t kRadix>
void Level(Complex* data, std::uint32_t count, std::uint32_t m, std::uint32_t stride, const Complex* twiddles) {
  for (std::uint32_t b = 0; b < count; ++b) {
    Complex* block = data + b * kRadix * m;
    Complex t[kRadix];
    for (std::uint32_t q = 0; q < kRadix; ++q) t[q] = block[q * m];
    Dft<kRadix>(t);
    for (std::uint32_t q = 0; q < kRadix; ++q) block[q * m] = t[q];
    for (std::uint32_t k = 1; k < m; ++k) {
      t[0] = block[k];
      for (std::uint32_t q = 1; q < kRadix; ++q) t[q] = Mul(block[q * m + k], twiddles[q * k * stride]);
      Dft<kRadix>(t);
      for (std::uint32_t q = 0; q < kRadix; ++q) block[q * m + k] = t[q];
    }
  }
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
  std::uint32_t count = 0;
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
  plan.levels_ = count;
  plan.twiddles_ = twiddles;
  plan.slots_ = slots;
  return result;
}

// Iterative, from the last radix (the smallest transforms) up to the first:
// the same combination order as a recursive decimation in time, without the
// calls. The level with radix factors_[l] builds transforms of length
// n_l = factors_[l] * ... * factors_[levels - 1], whose twiddles are the
// table's entries at multiples of n_ / n_l.
void FftPlan::Forward(Complex* data) const {
  std::uint32_t m = 1;
  for (std::uint32_t l = levels_; l-- > 0;) {
    const std::uint32_t p = factors_[l];
    const std::uint32_t length = m * p;
    const std::uint32_t count = n_ / length;
    switch (p) {
      case 2: Level<2>(data, count, m, count, twiddles_); break;
      case 3: Level<3>(data, count, m, count, twiddles_); break;
      case 4: Level<4>(data, count, m, count, twiddles_); break;
      default: Level<5>(data, count, m, count, twiddles_); break;
    }
    m = length;
  }
}

namespace {

// The extractor's memory, in this order: the plan, the unzipping twiddles
// (even lengths), the work buffer, the window's coefficients.
std::uint32_t PlanLength(std::uint32_t window_len) {
  return window_len % 2 == 0 ? window_len / 2 : window_len;
}

std::size_t UnzipBytes(std::uint32_t window_len) {
  return window_len % 2 == 0 ? (window_len / 2) * sizeof(Complex) : 0;
}

}  // namespace

std::size_t SpectrumExtractor::RequiredBytes(std::uint32_t window_len) {
  const std::uint32_t m = PlanLength(window_len);
  return FftPlan::RequiredBytes(m) + UnzipBytes(window_len) + m * sizeof(Complex) + window_len * sizeof(float);
}

Result<SpectrumExtractor> SpectrumExtractor::Create(std::uint32_t window_len, std::uint32_t axes,
                                                    WindowFunction window, void* memory,
                                                    std::size_t bytes) {
  Result<SpectrumExtractor> result;
  if (axes == 0 || axes > kMaxAxes || window_len == 0 || window_len > kMaxWindowLen) {
    result.status = Status::kBadArgument;
    return result;
  }
  if (memory == nullptr || !Aligned(memory, alignof(Complex))) {
    result.status = Status::kMisaligned;
    return result;
  }
  if (bytes < RequiredBytes(window_len)) {
    result.status = Status::kArenaTooSmall;
    return result;
  }
  const std::uint32_t m = PlanLength(window_len);
  auto* cursor = static_cast<std::uint8_t*>(memory);
  auto plan = FftPlan::Create(m, cursor, FftPlan::RequiredBytes(m));
  if (!plan.ok()) {
    result.status = plan.status;
    return result;
  }
  cursor += FftPlan::RequiredBytes(m);
  SpectrumExtractor& ex = result.value;
  ex.plan_ = plan.value;
  ex.n_ = window_len;
  ex.axes_ = axes;
  if (window_len % 2 == 0) {
    auto* unzip = reinterpret_cast<Complex*>(cursor);
    for (std::uint32_t k = 0; k < m; ++k) {
      const double angle = -kTwoPi * k / window_len;
      unzip[k] = {static_cast<float>(std::cos(angle)), static_cast<float>(std::sin(angle))};
    }
    ex.unzip_ = unzip;
    cursor += UnzipBytes(window_len);
  }
  ex.work_ = reinterpret_cast<Complex*>(cursor);
  cursor += m * sizeof(Complex);
  auto* coefficients = reinterpret_cast<float*>(cursor);
  for (std::uint32_t i = 0; i < window_len; ++i) {
    // Multiplying by 1 is exact, so "no window" needs no separate loop.
    coefficients[i] = window == WindowFunction::kHann
                          ? static_cast<float>(0.5 - 0.5 * std::cos(kTwoPi * i / window_len))
                          : 1.0f;
  }
  ex.window_ = coefficients;
  return result;
}

void SpectrumExtractor::Magnitudes(const float* window, std::uint32_t axis, float* magnitudes) const {
  const std::uint32_t n = n_;
  const float* x = window + axis;
  // Four partial sums (i mod 4), then added pairwise: a fixed order every
  // platform reproduces, without one long chain of dependent additions.
  float partial[4] = {};
  std::uint32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (std::uint32_t k = 0; k < 4; ++k) partial[k] += x[(i + k) * axes_];
  }
  for (std::uint32_t k = 0; i + k < n; ++k) partial[k] += x[(i + k) * axes_];
  const float mean = ((partial[0] + partial[1]) + (partial[2] + partial[3])) / static_cast<float>(n);
  if (unzip_ == nullptr) {  // odd length: the full complex transform of the real sequence
    for (std::uint32_t j = 0; j < n; ++j) work_[plan_.slot(j)] = {(x[j * axes_] - mean) * window_[j], 0.0f};
    plan_.Forward(work_);
    const float inv_n = 1.0f / static_cast<float>(n);
    for (std::uint32_t k = 0; k < bins(); ++k) {
      magnitudes[k] = std::sqrt(work_[k].re * work_[k].re + work_[k].im * work_[k].im) * inv_n;
    }
    return;
  }
  // z[j] = v[2j] + i v[2j+1] for j < m = n / 2.
  const std::uint32_t m = n / 2;
  for (std::uint32_t j = 0; j < m; ++j) {
    const std::uint32_t e = 2 * j;
    work_[plan_.slot(j)] = {(x[e * axes_] - mean) * window_[e], (x[(e + 1) * axes_] - mean) * window_[e + 1]};
  }
  plan_.Forward(work_);
  // With Z = FFT_m(z) and Z[m] = Z[0]: the even samples' spectrum is
  // E[k] = (Z[k] + conj Z[m-k]) / 2, the odd samples' O[k] = (Z[k] - conj Z[m-k]) / 2i,
  // and X[k] = E[k] + e^{-2 pi i k / n} O[k] for k = 0 .. m. 2E and 2iO are
  // formed, and the halving is folded into the final scale.
  const float scale = 0.5f / static_cast<float>(n);
  const Complex z0 = work_[0];
  magnitudes[0] = std::fabs(z0.re + z0.im) * (2.0f * scale);
  magnitudes[m] = std::fabs(z0.re - z0.im) * (2.0f * scale);
  for (std::uint32_t k = 1; k < m; ++k) {
    const Complex a = work_[k];
    const Complex b = {work_[m - k].re, -work_[m - k].im};  // conj Z[m-k]
    const Complex even = Add(a, b);
    const Complex odd = MulMinusI(Sub(a, b));
    const Complex x2 = Add(even, Mul(unzip_[k], odd));
    magnitudes[k] = x2.re * x2.re + x2.im * x2.im;
  }
  // The square roots in a loop of their own, which vectorizes.
  for (std::uint32_t k = 1; k < m; ++k) magnitudes[k] = std::sqrt(magnitudes[k]) * scale;
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
