// The inner products of one normalised window with every window of a cloud
// mode's neighbour bank: the bulk of scoring one /classify request (a bank of
// 512 windows x 90 features is 46k multiply-adds; the autoencoder is 1.4k).
//
// Two implementations, chosen once per process: Eigen's matrix x vector
// product over the bank as stored (what every build runs), and on x86-64 CPUs
// with AVX2 and FMA a kernel with intrinsics (ml/bank_products_avx2.cc) over
// the bank repacked in panels of 32 windows, so that it streams through
// memory once, in order, with 32 sums held in registers. The rest of the
// code stays compiled for baseline x86-64; see docs/DECISIONS.md. The two
// differ only in rounding (FMA, another order of the additions).
//
// Thread safety: BankPanels is immutable once built; the functions are pure.
#pragma once

#include <Eigen/Core>
#include <vector>

namespace edgefleet::ml {

enum class BankIsa { kAuto, kEigen, kAvx2 };

inline constexpr Eigen::Index kBankPanelWindows = 32;

// The bank (features x windows) in panels of kBankPanelWindows windows:
// panel p, feature f, lane j holds bank(f, 32p + j); the last panel is padded
// with zeros. Empty when the AVX2 kernel cannot run here.
struct BankPanels {
  std::vector<float> values;
  Eigen::Index features = 0;
  Eigen::Index windows = 0;

  static BankPanels From(const Eigen::MatrixXf& bank);
};

// out[i] = sum over f of bank(f, i) * z[f], for every stored window i: z has
// bank.rows() values, out bank.cols(). The AVX2 kernel runs when `isa` allows
// it, the CPU has it and `panels` was built from this bank; else Eigen.
void BankProducts(const Eigen::MatrixXf& bank, const BankPanels& panels, const float* z, float* out,
                  BankIsa isa = BankIsa::kAuto);

// Whether kAuto runs the AVX2 kernel here.
bool BankProductsUseAvx2();

namespace detail {
#if defined(__x86_64__)
void BankProductsAvx2(const float* panels, long features, long windows, const float* z, float* out);
bool CpuHasAvx2Fma();
#endif
}  // namespace detail

}  // namespace edgefleet::ml
