// The AVX2 + FMA bank products (ml/bank_products.h): x86-64 only. Every
// function that touches a 256-bit intrinsic carries the target attribute, so
// the library is still compiled for baseline x86-64 and runs anywhere.
//
// A panel holds 32 windows feature by feature (32 contiguous floats per
// feature), so the kernel reads the bank once, in order: four accumulators of
// 8 stay in registers while the panel's features stream past (one broadcast
// of z[f] and four fused multiply-adds each), then are stored once. The last
// panel's padding lanes are computed and dropped.
#if defined(__x86_64__)

#include <immintrin.h>

#include "ml/bank_products.h"

#define EDGEFLEET_AVX2_FMA __attribute__((target("avx2,fma")))

namespace edgefleet::ml::detail {

EDGEFLEET_AVX2_FMA void BankProductsAvx2(const float* panels, long features, long windows, const float* z,
                                         float* out) {
  constexpr long kLanes = kBankPanelWindows;
  static_assert(kLanes == 32);
  const float* p = panels;
  for (long first = 0; first < windows; first += kLanes) {
    __m256 a0 = _mm256_setzero_ps();
    __m256 a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps();
    __m256 a3 = _mm256_setzero_ps();
    for (long f = 0; f < features; ++f, p += kLanes) {
      const __m256 zf = _mm256_set1_ps(z[f]);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(p), zf, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 8), zf, a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 16), zf, a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 24), zf, a3);
    }
    alignas(32) float sums[kLanes];
    _mm256_store_ps(sums, a0);
    _mm256_store_ps(sums + 8, a1);
    _mm256_store_ps(sums + 16, a2);
    _mm256_store_ps(sums + 24, a3);
    const long count = windows - first < kLanes ? windows - first : kLanes;
    for (long j = 0; j < count; ++j) out[first + j] = sums[j];
  }
}

bool CpuHasAvx2Fma() {
  // libgcc's check includes the OS's XSAVE support of the YMM registers.
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
}

}  // namespace edgefleet::ml::detail

#endif  // defined(__x86_64__)
