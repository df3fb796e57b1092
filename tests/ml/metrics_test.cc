// Metrics on tiny cases worked out by hand (and, for the quantiles, the values
// numpy.quantile gives with its default method).

#include "ml/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace edgefleet::ml {
namespace {

constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();

double Auc(const std::vector<float>& scores, const std::vector<std::uint8_t>& labels) {
  return RocAuc(scores, labels);
}

TEST(RocAuc, PerfectInvertedAndUninformative) {
  EXPECT_DOUBLE_EQ(Auc({0.1f, 0.2f, 0.8f, 0.9f}, {0, 0, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(Auc({0.1f, 0.2f, 0.8f, 0.9f}, {1, 1, 0, 0}), 0.0);
  EXPECT_DOUBLE_EQ(Auc({0.5f, 0.5f, 0.5f, 0.5f, 0.5f}, {0, 1, 0, 1, 1}), 0.5);
  // Order does not matter, only the scores.
  EXPECT_DOUBLE_EQ(Auc({0.9f, 0.1f, 0.8f, 0.2f}, {1, 0, 1, 0}), 1.0);
}

TEST(RocAuc, TiesCountHalf) {
  // Pairs (positive, negative): (0.4, 0.1) 1, (0.4, 0.4) 1/2, (0.8, 0.1) 1, (0.8, 0.4) 1.
  EXPECT_DOUBLE_EQ(Auc({0.1f, 0.4f, 0.4f, 0.8f}, {0, 0, 1, 1}), 3.5 / 4.0);
  // Positives {0.5, 0.5, 0.9}, negatives {0.5, 0.2}: 1/2 + 1 + 1/2 + 1 + 1 + 1 = 5 of 6.
  EXPECT_DOUBLE_EQ(Auc({0.5f, 0.5f, 0.5f, 0.2f, 0.9f}, {1, 0, 1, 0, 1}), 5.0 / 6.0);
  // scikit-learn's documented example.
  EXPECT_DOUBLE_EQ(Auc({0.1f, 0.4f, 0.35f, 0.8f}, {0, 0, 1, 1}), 0.75);
}

TEST(RocAuc, AnyNonZeroLabelIsAnAnomaly) {
  EXPECT_DOUBLE_EQ(Auc({0.1f, 0.2f, 0.8f, 0.9f}, {0, 0, 7, 255}), 1.0);
}

TEST(RocAuc, InfiniteScoresRankNormally) {
  const float inf = std::numeric_limits<float>::infinity();
  // The positive (inf) beats -inf and 0 and ties the other inf: 2.5 of 3.
  EXPECT_DOUBLE_EQ(Auc({-inf, 0.0f, inf, inf}, {0, 0, 1, 0}), 2.5 / 3.0);
}

TEST(RocAuc, NaNWhenUndefined) {
  EXPECT_TRUE(std::isnan(Auc({}, {})));
  EXPECT_TRUE(std::isnan(Auc({0.1f, 0.2f}, {1, 1})));
  EXPECT_TRUE(std::isnan(Auc({0.1f, 0.2f}, {0, 0})));
  EXPECT_TRUE(std::isnan(Auc({0.1f, 0.2f, 0.3f}, {0, 1})));
  EXPECT_TRUE(std::isnan(Auc({0.1f, kNaNf, 0.3f}, {0, 1, 1})));
}

TEST(RocAuc, AgreesWithCountingPairs) {
  std::mt19937_64 rng(5);
  std::vector<float> scores(300);
  std::vector<std::uint8_t> labels(300);
  for (std::size_t i = 0; i < scores.size(); ++i) {
    scores[i] = static_cast<float>(rng() % 40) * 0.25f;  // many ties
    labels[i] = static_cast<std::uint8_t>(rng() % 3 == 0);
  }
  double wins = 0.0;
  double pairs = 0.0;
  for (std::size_t p = 0; p < scores.size(); ++p) {
    if (labels[p] == 0) continue;
    for (std::size_t n = 0; n < scores.size(); ++n) {
      if (labels[n] != 0) continue;
      pairs += 1.0;
      wins += scores[p] > scores[n] ? 1.0 : scores[p] == scores[n] ? 0.5 : 0.0;
    }
  }
  EXPECT_NEAR(Auc(scores, labels), wins / pairs, 1e-12);
}

TEST(BinaryCounts, CountsAndScores) {
  const std::vector<std::uint8_t> predicted = {1, 1, 0, 0, 1};
  const std::vector<std::uint8_t> labels = {1, 0, 0, 1, 1};
  const BinaryCounts c = CountBinary(predicted, labels);
  EXPECT_EQ(c.tp, 2u);
  EXPECT_EQ(c.fp, 1u);
  EXPECT_EQ(c.tn, 1u);
  EXPECT_EQ(c.fn, 1u);
  EXPECT_DOUBLE_EQ(c.precision(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(c.recall(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(c.f1(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(c.accuracy(), 3.0 / 5.0);
}

TEST(BinaryCounts, UnequalPrecisionAndRecall) {
  const BinaryCounts c{.tp = 3, .fp = 1, .tn = 10, .fn = 3};
  EXPECT_DOUBLE_EQ(c.precision(), 0.75);
  EXPECT_DOUBLE_EQ(c.recall(), 0.5);
  EXPECT_DOUBLE_EQ(c.f1(), 2.0 * 0.75 * 0.5 / 1.25);
  EXPECT_DOUBLE_EQ(c.accuracy(), 13.0 / 17.0);
}

TEST(BinaryCounts, ZeroDenominatorsGiveZero) {
  const BinaryCounts nothing_flagged = CountBinary(std::vector<std::uint8_t>{0, 0, 0},
                                                   std::vector<std::uint8_t>{1, 0, 1});
  EXPECT_EQ(nothing_flagged.fn, 2u);
  EXPECT_EQ(nothing_flagged.precision(), 0.0);
  EXPECT_EQ(nothing_flagged.recall(), 0.0);
  EXPECT_EQ(nothing_flagged.f1(), 0.0);
  EXPECT_DOUBLE_EQ(nothing_flagged.accuracy(), 1.0 / 3.0);

  const BinaryCounts all_wrong{.tp = 0, .fp = 4, .tn = 0, .fn = 2};
  EXPECT_EQ(all_wrong.precision(), 0.0);
  EXPECT_EQ(all_wrong.recall(), 0.0);
  EXPECT_EQ(all_wrong.f1(), 0.0);

  const BinaryCounts all_normal = CountBinary(std::vector<std::uint8_t>{0, 0},
                                              std::vector<std::uint8_t>{0, 0});
  EXPECT_EQ(all_normal.tn, 2u);
  EXPECT_EQ(all_normal.f1(), 0.0);
  EXPECT_EQ(all_normal.accuracy(), 1.0);

  const BinaryCounts empty;
  EXPECT_EQ(empty.precision(), 0.0);
  EXPECT_EQ(empty.recall(), 0.0);
  EXPECT_EQ(empty.f1(), 0.0);
  EXPECT_EQ(empty.accuracy(), 0.0);
}

TEST(BinaryCounts, MismatchedLengthsCountNothing) {
  const BinaryCounts c = CountBinary(std::vector<std::uint8_t>{1, 0},
                                     std::vector<std::uint8_t>{1, 0, 1});
  EXPECT_EQ(c.tp + c.fp + c.tn + c.fn, 0u);
}

TEST(Quantile, MatchesNumpyLinear) {
  // numpy.quantile([3.5, -1, 2, 2, 10, 0.25, 7], q): sorted -1 0.25 2 2 3.5 7 10.
  const std::vector<float> v = {3.5f, -1.0f, 2.0f, 2.0f, 10.0f, 0.25f, 7.0f};
  EXPECT_EQ(Quantile(v, 0.0), -1.0);
  EXPECT_DOUBLE_EQ(Quantile(v, 0.25), 1.125);  // h = 1.5: halfway from 0.25 to 2
  EXPECT_EQ(Quantile(v, 0.5), 2.0);
  EXPECT_NEAR(Quantile(v, 0.99), 9.82, 1e-12);  // h = 5.94: 7 + 0.94 * 3
  EXPECT_EQ(Quantile(v, 1.0), 10.0);

  const std::vector<float> w = {4.0f, 1.0f, 3.0f, 2.0f};
  EXPECT_EQ(Quantile(w, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(Quantile(w, 0.25), 1.75);
  EXPECT_DOUBLE_EQ(Quantile(w, 0.5), 2.5);
  EXPECT_NEAR(Quantile(w, 0.99), 3.97, 1e-12);
  EXPECT_EQ(Quantile(w, 1.0), 4.0);
}

TEST(Quantile, EdgeCases) {
  EXPECT_TRUE(std::isnan(Quantile({}, 0.5)));
  EXPECT_TRUE(std::isnan(Quantile({1.0f}, -0.1)));
  EXPECT_TRUE(std::isnan(Quantile({1.0f}, 1.1)));
  EXPECT_TRUE(std::isnan(Quantile({1.0f}, std::numeric_limits<double>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(Quantile({1.0f, kNaNf}, 0.5)));
  EXPECT_EQ(Quantile({5.0f}, 0.0), 5.0);
  EXPECT_EQ(Quantile({5.0f}, 0.73), 5.0);
  EXPECT_EQ(Quantile({5.0f}, 1.0), 5.0);
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(Quantile({inf, inf, 1.0f}, 0.9), static_cast<double>(inf));
}

TEST(ComputeMeanStd, PopulationStandardDeviation) {
  const std::vector<float> v = {1.5f, 2.5f, -3.0f, 4.0f, 0.125f};
  const MeanStd s = ComputeMeanStd(v);
  EXPECT_DOUBLE_EQ(s.mean, 1.025);
  // Squared deviations 0.225625 + 2.175625 + 16.200625 + 8.850625 + 0.81 = 28.2625, / 5.
  EXPECT_DOUBLE_EQ(s.stddev, std::sqrt(5.6525));

  const std::vector<float> constant(1000, 0.1f);
  const MeanStd c = ComputeMeanStd(constant);
  EXPECT_DOUBLE_EQ(c.mean, static_cast<double>(0.1f));
  EXPECT_EQ(c.stddev, 0.0);

  const MeanStd none = ComputeMeanStd({});
  EXPECT_TRUE(std::isnan(none.mean));
  EXPECT_TRUE(std::isnan(none.stddev));
}

TEST(ComputeMeanStd, LargeOffsetDoesNotCancel) {
  // Two passes in double: a naive float sum of squares would lose this.
  const std::vector<float> v = {10000.0f, 10001.0f, 10002.0f};
  const MeanStd s = ComputeMeanStd(v);
  EXPECT_DOUBLE_EQ(s.mean, 10001.0);
  EXPECT_DOUBLE_EQ(s.stddev, std::sqrt(2.0 / 3.0));
}

}  // namespace
}  // namespace edgefleet::ml
