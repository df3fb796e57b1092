#include "ml/bank_products.h"

namespace edgefleet::ml {

bool BankProductsUseAvx2() {
#if defined(__x86_64__)
  static const bool avx2 = detail::CpuHasAvx2Fma();
  return avx2;
#else
  return false;
#endif
}

BankPanels BankPanels::From(const Eigen::MatrixXf& bank) {
  BankPanels p;
  if (!BankProductsUseAvx2() || bank.cols() == 0) return p;
  p.features = bank.rows();
  p.windows = bank.cols();
  const Eigen::Index panels = (p.windows + kBankPanelWindows - 1) / kBankPanelWindows;
  p.values.assign(static_cast<std::size_t>(panels * p.features * kBankPanelWindows), 0.0f);
  for (Eigen::Index i = 0; i < p.windows; ++i) {
    const Eigen::Index panel = i / kBankPanelWindows;
    const Eigen::Index lane = i % kBankPanelWindows;
    for (Eigen::Index f = 0; f < p.features; ++f) {
      p.values[static_cast<std::size_t>((panel * p.features + f) * kBankPanelWindows + lane)] = bank(f, i);
    }
  }
  return p;
}

void BankProducts(const Eigen::MatrixXf& bank, const BankPanels& panels, const float* z, float* out, BankIsa isa) {
#if defined(__x86_64__)
  if (isa != BankIsa::kEigen && BankProductsUseAvx2() && panels.features == bank.rows() &&
      panels.windows == bank.cols() && !panels.values.empty()) {
    detail::BankProductsAvx2(panels.values.data(), panels.features, panels.windows, z, out);
    return;
  }
#else
  (void)isa;
  (void)panels;
#endif
  Eigen::Map<Eigen::VectorXf>(out, bank.cols()).noalias() =
      bank.transpose() * Eigen::Map<const Eigen::VectorXf>(z, bank.rows());
}

}  // namespace edgefleet::ml
