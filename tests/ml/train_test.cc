// TrainAutoencoder: the hand-written gradient against finite differences,
// that training learns what it should, determinism, early stopping, and that
// bad input is refused instead of crashing.

#include "ml/train.h"

#include <gtest/gtest.h>

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "ml/network.h"

namespace edgefleet::ml {
namespace {

// Uniform in [-1, 1) from mt19937_64 bits: fixed by the standard.
Eigen::MatrixXf UniformMatrix(Eigen::Index rows, Eigen::Index cols, std::mt19937_64& rng) {
  Eigen::MatrixXf m(rows, cols);
  for (Eigen::Index c = 0; c < cols; ++c) {
    for (Eigen::Index r = 0; r < rows; ++r) {
      m(r, c) = static_cast<float>(static_cast<double>(rng() >> 11) * 0x1.0p-52 - 1.0);
    }
  }
  return m;
}

// `count` points on a random 2-D linear subspace of R^10.
Eigen::MatrixXf SubspacePoints(Eigen::Index count, std::uint64_t seed) {
  std::mt19937_64 basis_rng(1234);  // the same plane for every set
  const Eigen::MatrixXf basis = UniformMatrix(10, 2, basis_rng);
  std::mt19937_64 rng(seed);
  return basis * UniformMatrix(2, count, rng);
}

FloatNetwork AllLinear(FloatNetwork net) {
  for (FloatLayer& layer : net.layers) layer.activation = core::Activation::kLinear;
  return net;
}

bool SameBits(const FloatNetwork& a, const FloatNetwork& b) {
  if (a.layers.size() != b.layers.size()) return false;
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    const FloatLayer& x = a.layers[i];
    const FloatLayer& y = b.layers[i];
    if (x.weight.rows() != y.weight.rows() || x.weight.cols() != y.weight.cols() ||
        x.bias.size() != y.bias.size()) {
      return false;
    }
    if (std::memcmp(x.weight.data(), y.weight.data(), sizeof(float) * static_cast<std::size_t>(x.weight.size())) != 0 ||
        std::memcmp(x.bias.data(), y.bias.data(), sizeof(float) * static_cast<std::size_t>(x.bias.size())) != 0) {
      return false;
    }
  }
  return true;
}

// The loss in double, from scratch (a second implementation of the forward
// pass): the reference for the finite differences.
double LossInDouble(const FloatNetwork& net, const Eigen::MatrixXd& batch, double weight_decay) {
  Eigen::MatrixXd h = batch;
  double penalty = 0.0;
  for (const FloatLayer& layer : net.layers) {
    const Eigen::MatrixXd w = layer.weight.cast<double>();
    Eigen::MatrixXd z = w * h;
    z.colwise() += layer.bias.cast<double>();
    if (layer.activation == core::Activation::kRelu) z = z.cwiseMax(0.0);
    h = z;
    penalty += 0.5 * weight_decay * w.squaredNorm();
  }
  return (h - batch).squaredNorm() / static_cast<double>(batch.size()) + penalty;
}

// Central differences on every parameter, compared with the analytic gradient.
void ExpectGradientMatches(const FloatNetwork& net, const Eigen::MatrixXf& batch, float weight_decay) {
  const LossGradient grad = ComputeLossGradient(net, batch, weight_decay);
  const Eigen::MatrixXd batch_d = batch.cast<double>();
  const double wd = static_cast<double>(weight_decay);
  EXPECT_NEAR(static_cast<double>(grad.loss), LossInDouble(net, batch_d, wd), 1e-5);
  ASSERT_EQ(grad.weight.size(), net.layers.size());
  ASSERT_EQ(grad.bias.size(), net.layers.size());

  // Perturbations are exact in float (powers of two), and the loss is
  // evaluated in double, so the difference quotient is accurate to ~h^2.
  constexpr float kStep = 0x1.0p-10f;
  const auto numeric = [&](FloatNetwork& probe, float& parameter) {
    const float saved = parameter;
    parameter = saved + kStep;
    const double up = LossInDouble(probe, batch_d, wd);
    parameter = saved - kStep;
    const double down = LossInDouble(probe, batch_d, wd);
    parameter = saved;
    return (up - down) / (2.0 * static_cast<double>(kStep));
  };
  FloatNetwork probe = net;
  int checked = 0;
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    for (Eigen::Index i = 0; i < probe.layers[l].weight.size(); ++i) {
      const double expected = numeric(probe, probe.layers[l].weight.data()[i]);
      const double got = static_cast<double>(grad.weight[l].data()[i]);
      EXPECT_NEAR(got, expected, 1e-4 + 1e-3 * std::fabs(expected)) << "layer " << l << " weight " << i;
      ++checked;
    }
    for (Eigen::Index i = 0; i < probe.layers[l].bias.size(); ++i) {
      const double expected = numeric(probe, probe.layers[l].bias.data()[i]);
      const double got = static_cast<double>(grad.bias[l](i));
      EXPECT_NEAR(got, expected, 1e-4 + 1e-3 * std::fabs(expected)) << "layer " << l << " bias " << i;
      ++checked;
    }
  }
  EXPECT_EQ(static_cast<std::size_t>(checked), net.ParameterCount());
}

TEST(ComputeLossGradient, MatchesFiniteDifferencesForAReluNetwork) {
  FloatNetwork net = MakeAutoencoder({5, 4, 3, 4, 5}, 7);
  std::mt19937_64 rng(8);
  for (FloatLayer& layer : net.layers) layer.bias = UniformMatrix(layer.out(), 1, rng) * 0.3f;
  const Eigen::MatrixXf batch = UniformMatrix(5, 6, rng);
  ASSERT_EQ(net.layers[0].activation, core::Activation::kRelu);
  ASSERT_EQ(net.layers[3].activation, core::Activation::kLinear);
  ExpectGradientMatches(net, batch, 0.0f);
}

TEST(ComputeLossGradient, MatchesFiniteDifferencesForALinearNetwork) {
  FloatNetwork net = AllLinear(MakeAutoencoder({4, 2, 4}, 3));
  std::mt19937_64 rng(4);
  const Eigen::MatrixXf batch = UniformMatrix(4, 5, rng);
  ExpectGradientMatches(net, batch, 0.0f);
}

TEST(ComputeLossGradient, IncludesWeightDecayOnWeightsOnly) {
  FloatNetwork net = MakeAutoencoder({4, 3, 4}, 5);
  std::mt19937_64 rng(6);
  const Eigen::MatrixXf batch = UniformMatrix(4, 7, rng);
  ExpectGradientMatches(net, batch, 0.05f);

  const LossGradient plain = ComputeLossGradient(net, batch, 0.0f);
  const LossGradient decayed = ComputeLossGradient(net, batch, 0.05f);
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    EXPECT_TRUE(decayed.bias[l] == plain.bias[l]);
    EXPECT_TRUE((decayed.weight[l] - plain.weight[l]).isApprox(0.05f * net.layers[l].weight, 1e-4f));
  }
}

TEST(ComputeLossGradient, LossIsTheMeanReconstructionMse) {
  const FloatNetwork net = MakeAutoencoder({6, 3, 6}, 11);
  std::mt19937_64 rng(12);
  const Eigen::MatrixXf batch = UniformMatrix(6, 9, rng);
  const float mean = net.ReconstructionMse(batch).mean();
  EXPECT_NEAR(ComputeLossGradient(net, batch).loss, mean, 1e-6f * mean);
  EXPECT_NEAR(MeanReconstructionMse(net, batch), mean, 1e-6f * mean);
}

TEST(MeanReconstructionMse, ChunksAgreeWithOnePass) {
  // More columns than one evaluation chunk, and not a multiple of it.
  const FloatNetwork net = MakeAutoencoder({10, 4, 10}, 2);
  const Eigen::MatrixXf data = SubspacePoints(1300, 3);
  const double mean = static_cast<double>(net.ReconstructionMse(data).mean());
  EXPECT_NEAR(static_cast<double>(MeanReconstructionMse(net, data)), mean, 1e-5 * mean);
  EXPECT_TRUE(std::isnan(MeanReconstructionMse(net, Eigen::MatrixXf(10, 0))));
}

TEST(TrainAutoencoder, LinearAutoencoderLearnsAPlane) {
  const Eigen::MatrixXf train = SubspacePoints(512, 1);
  const Eigen::MatrixXf validation = SubspacePoints(128, 2);
  FloatNetwork net = AllLinear(MakeAutoencoder({10, 2, 10}, 3));
  const float initial = MeanReconstructionMse(net, validation);

  TrainOptions options;
  options.max_epochs = 120;
  options.batch_size = 32;
  options.learning_rate = 1e-2f;
  options.patience = 0;
  std::vector<EpochReport> reports;
  const TrainResult result =
      TrainAutoencoder(net, train, validation, options, [&](const EpochReport& r) { reports.push_back(r); });

  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.epochs_run, 120);
  EXPECT_FALSE(result.stopped_early);
  ASSERT_EQ(reports.size(), 120u);
  for (std::size_t i = 0; i < reports.size(); ++i) EXPECT_EQ(reports[i].epoch, static_cast<int>(i) + 1);
  // A rank-2 linear map reproduces a plane exactly (here from 4.2 to ~1e-11).
  EXPECT_LT(result.best_validation_loss, initial * 1e-6f) << "initial " << initial;
  EXPECT_LT(result.final_train_loss, initial * 1e-6f);
  EXPECT_EQ(MeanReconstructionMse(net, validation), result.best_validation_loss);
  EXPECT_EQ(MeanReconstructionMse(net, train), result.final_train_loss);
}

TEST(TrainAutoencoder, ReluAutoencoderLossDecreases) {
  const Eigen::MatrixXf train = SubspacePoints(512, 4);
  const Eigen::MatrixXf validation = SubspacePoints(128, 5);
  FloatNetwork net = MakeAutoencoder({10, 4, 2, 4, 10}, 6);
  const float initial = MeanReconstructionMse(net, validation);

  TrainOptions options;
  options.max_epochs = 150;
  options.batch_size = 32;
  options.learning_rate = 5e-3f;
  std::vector<EpochReport> reports;
  const TrainResult result =
      TrainAutoencoder(net, train, validation, options, [&](const EpochReport& r) { reports.push_back(r); });

  // Two ReLU units can carry a bounded plane only where both are active; from
  // this start training settles near 0.12 (from 0.81), still well short of zero.
  ASSERT_TRUE(result.ok()) << result.error;
  ASSERT_FALSE(reports.empty());
  EXPECT_LT(result.best_validation_loss, initial * 0.3f) << "initial " << initial;
  EXPECT_LT(reports[static_cast<std::size_t>(result.best_epoch - 1)].train_loss, reports.front().train_loss * 0.5f);
  EXPECT_LT(result.final_train_loss, initial * 0.3f);
}

TrainResult TrainBriefly(FloatNetwork& net, std::uint64_t seed) {
  TrainOptions options;
  options.max_epochs = 5;
  options.batch_size = 16;
  options.learning_rate = 1e-2f;
  options.weight_decay = 1e-3f;
  options.seed = seed;
  return TrainAutoencoder(net, SubspacePoints(100, 7), SubspacePoints(40, 8), options);
}

TEST(TrainAutoencoder, SameSeedGivesBitIdenticalWeights) {
  FloatNetwork a = MakeAutoencoder({10, 6, 3, 6, 10}, 9);
  FloatNetwork b = a;
  const FloatNetwork initial = a;
  ASSERT_TRUE(TrainBriefly(a, 42).ok());
  ASSERT_TRUE(TrainBriefly(b, 42).ok());
  EXPECT_FALSE(SameBits(a, initial));
  EXPECT_TRUE(SameBits(a, b));
}

TEST(TrainAutoencoder, DifferentSeedGivesDifferentWeights) {
  FloatNetwork a = MakeAutoencoder({10, 6, 3, 6, 10}, 9);
  FloatNetwork b = a;
  ASSERT_TRUE(TrainBriefly(a, 42).ok());
  ASSERT_TRUE(TrainBriefly(b, 43).ok());
  EXPECT_FALSE(SameBits(a, b));
}

TEST(TrainAutoencoder, OneBatchPerEpochIgnoresTheSeed) {
  // The shuffle only reorders columns within the batch; the gradient is a sum
  // over them, so the seeds agree up to summation order (not bit for bit).
  FloatNetwork a = MakeAutoencoder({10, 4, 10}, 1);
  FloatNetwork b = a;
  TrainOptions options;
  options.max_epochs = 3;
  options.batch_size = 1000;
  const Eigen::MatrixXf train = SubspacePoints(50, 1);
  options.seed = 1;
  ASSERT_TRUE(TrainAutoencoder(a, train, train, options).ok());
  options.seed = 2;
  ASSERT_TRUE(TrainAutoencoder(b, train, train, options).ok());
  for (std::size_t l = 0; l < a.layers.size(); ++l) {
    EXPECT_TRUE(a.layers[l].weight.isApprox(b.layers[l].weight, 1e-5f));
  }
}

TEST(TrainAutoencoder, EarlyStoppingRestoresTheBestEpoch) {
  const Eigen::MatrixXf train = SubspacePoints(256, 10);
  const Eigen::MatrixXf validation = SubspacePoints(64, 11);
  FloatNetwork net = MakeAutoencoder({10, 4, 10}, 12);

  TrainOptions options;
  options.max_epochs = 500;
  options.batch_size = 32;
  options.learning_rate = 1e-2f;
  options.patience = 4;
  // Demanding a 30% relative improvement per best makes improvements run out
  // while the loss is still moving, so the last epoch is not the best one.
  options.min_delta = 0.3f;
  std::vector<EpochReport> reports;
  FloatNetwork last_epoch;
  const TrainResult result =
      TrainAutoencoder(net, train, validation, options, [&](const EpochReport& r) { reports.push_back(r); });

  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_TRUE(result.stopped_early);
  EXPECT_LT(result.epochs_run, options.max_epochs);
  EXPECT_EQ(result.epochs_run, result.best_epoch + options.patience);
  ASSERT_EQ(reports.size(), static_cast<std::size_t>(result.epochs_run));

  const EpochReport& best = reports[static_cast<std::size_t>(result.best_epoch - 1)];
  EXPECT_TRUE(best.improved);
  EXPECT_EQ(best.validation_loss, result.best_validation_loss);
  for (std::size_t i = static_cast<std::size_t>(result.best_epoch); i < reports.size(); ++i) {
    EXPECT_FALSE(reports[i].improved) << "epoch " << reports[i].epoch;
  }
  EXPECT_NE(reports.back().validation_loss, result.best_validation_loss);
  // The network holds the best epoch's weights, not the last epoch's.
  EXPECT_EQ(MeanReconstructionMse(net, validation), result.best_validation_loss);
  const double direct = static_cast<double>(net.ReconstructionMse(validation).mean());
  EXPECT_NEAR(direct, static_cast<double>(result.best_validation_loss), 1e-5 * direct);

  // The improvement rule: each best beats the previous one by more than min_delta.
  float previous = std::numeric_limits<float>::infinity();
  for (const EpochReport& r : reports) {
    EXPECT_EQ(r.improved, r.validation_loss < previous * (1.0f - options.min_delta)) << "epoch " << r.epoch;
    if (r.improved) previous = r.validation_loss;
  }
}

TEST(TrainAutoencoder, ZeroEpochsTrainsNothing) {
  FloatNetwork net = MakeAutoencoder({10, 4, 10}, 1);
  const FloatNetwork initial = net;
  TrainOptions options;
  options.max_epochs = 0;
  const Eigen::MatrixXf data = SubspacePoints(20, 1);
  const TrainResult result = TrainAutoencoder(net, data, data, options);
  EXPECT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.epochs_run, 0);
  EXPECT_EQ(result.best_epoch, 0);
  EXPECT_TRUE(std::isnan(result.best_validation_loss));
  EXPECT_EQ(result.final_train_loss, MeanReconstructionMse(initial, data));
  EXPECT_TRUE(SameBits(net, initial));
}

TEST(TrainAutoencoder, BatchLargerThanTheSetAndARemainderBatch) {
  const Eigen::MatrixXf data = SubspacePoints(37, 1);
  for (const int batch_size : {1, 10, 37, 1000}) {
    FloatNetwork net = MakeAutoencoder({10, 4, 10}, 1);
    TrainOptions options;
    options.max_epochs = 2;
    options.batch_size = batch_size;
    const TrainResult result = TrainAutoencoder(net, data, data, options);
    EXPECT_TRUE(result.ok()) << batch_size << ": " << result.error;
    EXPECT_EQ(result.epochs_run, 2) << batch_size;
    EXPECT_TRUE(std::isfinite(result.final_train_loss)) << batch_size;
  }
}

TEST(TrainAutoencoder, DivergenceStopsAndKeepsTheInitialWeights) {
  // Data far beyond float range once squared: every loss is infinite, so no
  // epoch can be the best and the initial weights come back.
  const Eigen::MatrixXf data = Eigen::MatrixXf::Constant(10, 8, 1e30f);
  FloatNetwork net = MakeAutoencoder({10, 4, 10}, 1);
  const FloatNetwork initial = net;
  TrainOptions options;
  options.max_epochs = 50;
  const TrainResult result = TrainAutoencoder(net, data, data, options);
  EXPECT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.epochs_run, 1);
  EXPECT_TRUE(result.stopped_early);
  EXPECT_EQ(result.best_epoch, 0);
  EXPECT_TRUE(std::isnan(result.best_validation_loss));
  EXPECT_TRUE(SameBits(net, initial));
}

// Each case must be refused with a message, not crash, and leave `net` as it was.
void ExpectRefused(FloatNetwork net, const Eigen::MatrixXf& train, const Eigen::MatrixXf& validation,
                   const TrainOptions& options, const char* what) {
  const FloatNetwork initial = net;
  int calls = 0;
  const TrainResult result = TrainAutoencoder(net, train, validation, options, [&](const EpochReport&) { ++calls; });
  EXPECT_FALSE(result.ok()) << what;
  EXPECT_FALSE(result.error.empty()) << what;
  EXPECT_EQ(result.epochs_run, 0) << what;
  EXPECT_EQ(result.best_epoch, 0) << what;
  EXPECT_EQ(calls, 0) << what;
  EXPECT_TRUE(SameBits(net, initial)) << what;
}

TEST(TrainAutoencoder, RefusesBadInputWithoutCrashing) {
  const FloatNetwork net = MakeAutoencoder({10, 4, 10}, 1);
  const Eigen::MatrixXf good = SubspacePoints(20, 1);
  const TrainOptions options;

  ExpectRefused(net, Eigen::MatrixXf(10, 0), good, options, "empty train");
  ExpectRefused(net, good, Eigen::MatrixXf(10, 0), options, "empty validation");
  ExpectRefused(net, Eigen::MatrixXf(0, 0), Eigen::MatrixXf(0, 0), options, "no rows");
  ExpectRefused(net, Eigen::MatrixXf::Ones(9, 20), Eigen::MatrixXf::Ones(9, 20), options, "rows != width");
  ExpectRefused(net, good, Eigen::MatrixXf::Ones(9, 20), options, "validation rows differ");
  ExpectRefused(FloatNetwork{}, good, good, options, "no layers");
  ExpectRefused(MakeAutoencoder({10, 4, 9}, 1), good, good, options, "not an autoencoder");

  FloatNetwork broken = net;
  broken.layers[1].weight.resize(10, 5);
  broken.layers[1].weight.setZero();
  ExpectRefused(broken, good, good, options, "layers do not chain");
  broken = net;
  broken.layers[0].bias.resize(3);
  ExpectRefused(broken, good, good, options, "bias size");
  broken = net;
  broken.layers[0].weight(0, 0) = std::numeric_limits<float>::quiet_NaN();
  ExpectRefused(broken, good, good, options, "NaN weight");

  Eigen::MatrixXf with_nan = good;
  with_nan(3, 4) = std::numeric_limits<float>::quiet_NaN();
  ExpectRefused(net, with_nan, good, options, "NaN in train");
  Eigen::MatrixXf with_inf = good;
  with_inf(0, 0) = std::numeric_limits<float>::infinity();
  ExpectRefused(net, good, with_inf, options, "inf in validation");

  const auto with = [&](auto change) {
    TrainOptions o;
    change(o);
    return o;
  };
  ExpectRefused(net, good, good, with([](TrainOptions& o) { o.batch_size = 0; }), "batch_size 0");
  ExpectRefused(net, good, good, with([](TrainOptions& o) { o.learning_rate = 0.0f; }), "learning_rate 0");
  ExpectRefused(net, good, good, with([](TrainOptions& o) { o.learning_rate = std::nanf(""); }), "learning_rate NaN");
  ExpectRefused(net, good, good, with([](TrainOptions& o) { o.beta1 = 1.0f; }), "beta1 1");
  ExpectRefused(net, good, good, with([](TrainOptions& o) { o.beta2 = -0.1f; }), "beta2 < 0");
  ExpectRefused(net, good, good, with([](TrainOptions& o) { o.epsilon = 0.0f; }), "epsilon 0");
  ExpectRefused(net, good, good, with([](TrainOptions& o) { o.weight_decay = -1.0f; }), "weight_decay < 0");
  ExpectRefused(net, good, good, with([](TrainOptions& o) { o.min_delta = std::nanf(""); }), "min_delta NaN");
}

}  // namespace
}  // namespace edgefleet::ml
