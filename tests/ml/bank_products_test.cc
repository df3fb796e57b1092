// The kNN part of the cloud model: the AVX2 bank kernel against Eigen's
// product, and a whole Score against distances computed the long way.
#include "ml/bank_products.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "ml/cloud_model.h"

namespace edgefleet::ml {
namespace {

Eigen::MatrixXf RandomMatrix(Eigen::Index rows, Eigen::Index cols, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Eigen::MatrixXf m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
}

TEST(BankProducts, TheAvx2KernelAgreesWithEigenOnEveryPanelShape) {
  if (!BankProductsUseAvx2()) GTEST_SKIP() << "no AVX2 + FMA on this CPU";
  // Whole panels, a partial last panel, and a bank smaller than one panel.
  for (const Eigen::Index windows : {512, 515, 7}) {
    const Eigen::MatrixXf bank = RandomMatrix(90, windows, static_cast<std::uint32_t>(windows));
    const BankPanels panels = BankPanels::From(bank);
    const Eigen::VectorXf z = RandomMatrix(90, 1, 99);
    std::vector<float> eigen(static_cast<std::size_t>(windows)), avx2(eigen.size(), -1.0f);
    BankProducts(bank, panels, z.data(), eigen.data(), BankIsa::kEigen);
    BankProducts(bank, panels, z.data(), avx2.data(), BankIsa::kAvx2);
    for (std::size_t i = 0; i < eigen.size(); ++i) {
      EXPECT_NEAR(avx2[i], eigen[i], 1e-4f * std::max(1.0f, std::abs(eigen[i]))) << windows << " windows, i " << i;
    }
  }
}

TEST(BankProducts, PanelsOfAnotherBankAreNotUsed) {
  const Eigen::MatrixXf bank = RandomMatrix(12, 40, 1);
  const BankPanels stale = BankPanels::From(RandomMatrix(12, 41, 2));
  const Eigen::VectorXf z = RandomMatrix(12, 1, 3);
  std::vector<float> out(40), eigen(40);
  BankProducts(bank, stale, z.data(), out.data());
  BankProducts(bank, stale, z.data(), eigen.data(), BankIsa::kEigen);
  EXPECT_EQ(out, eigen);
}

// One mode whose autoencoder counts for nothing (scale 0) and a bank: the
// score must be the mean of the k smallest squared distances per feature,
// computed directly, one window at a time and batched.
TEST(CloudScore, NeighbourPartIsTheMeanOfTheKNearestSquaredDistances) {
  CloudModel model;
  model.window_len = 100;
  model.axes = 3;
  model.neighbours = 5;
  model.spectrum.log_floor = 1e-3f;
  model.spectrum.edges = {1, 3, 6, 10, 20, 51};
  model.selector.spectrum = model.spectrum;
  const std::uint32_t dims = model.feature_count();
  model.selector.inv_scale.assign(dims, 1.0f);
  model.selector.centroids.push_back(std::vector<float>(dims, 0.0f));
  CloudMode mode;
  mode.offset.assign(dims, 0.0f);
  mode.inv_scale.assign(dims, 1.0f);
  FloatLayer layer;
  layer.weight = Eigen::MatrixXf::Zero(dims, dims);
  layer.bias = Eigen::VectorXf::Zero(dims);
  mode.autoencoder.layers.push_back(layer);
  mode.autoencoder_scale = 0.0f;  // the neighbour part alone
  mode.bank = RandomMatrix(dims, 300, 7);
  mode.neighbour_scale = 1.0f;
  mode.PrepareBank();
  model.modes.push_back(std::move(mode));

  SpectralFeatures features(model.window_len, model.axes);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> g(-1.0f, 1.0f);
  std::vector<float> window(300);
  for (float& v : window) v = g(rng);
  std::vector<float> selector(dims), f(dims);
  features.ComputeTwo(window, model.selector.spectrum, selector.data(), model.spectrum, f.data());

  const Eigen::Map<const Eigen::VectorXf> z(f.data(), dims);
  std::vector<float> distances;
  for (Eigen::Index j = 0; j < model.modes[0].bank.cols(); ++j) {
    distances.push_back((model.modes[0].bank.col(j) - z).squaredNorm());
  }
  std::sort(distances.begin(), distances.end());
  float expected = 0.0f;
  for (int j = 0; j < 5; ++j) expected += distances[static_cast<std::size_t>(j)];
  expected /= 5.0f * static_cast<float>(dims);

  const CloudScore one = Score(model, features, window);
  EXPECT_NEAR(one.score, expected, 1e-4f * expected);
  Eigen::MatrixXf batch = Eigen::Map<const Eigen::MatrixXf>(window.data(), 300, 1);
  EXPECT_NEAR(ScoreBatch(model, features, batch)[0].score, expected, 1e-4f * expected);
}

}  // namespace
}  // namespace edgefleet::ml
