// The training pipeline's parts: spectral bins, operating modes, the cloud
// model's file format, thresholds and tier metrics, and whole training runs on
// a real subset of the shipped recordings.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "core/crc32.h"
#include "core/artifact.h"
#include "dataset_test_util.h"
#include "ml/cloud_model.h"
#include "ml/evaluation.h"
#include "ml/features.h"
#include "ml/modes.h"
#include "ml/train.h"
#include "ml/training.h"

namespace edgefleet::ml {
namespace {

// The first `captures` captures of every recording: a small real dataset.
Dataset Subset(const Dataset& full, std::uint32_t captures) {
  Dataset out;
  for (const Recording& r : full.recordings) {
    Recording s = r;
    if (r.captures() > captures) {
      const std::uint32_t end = r.capture_starts[captures];
      s.capture_starts.resize(captures);
      s.counts.resize(static_cast<std::size_t>(end) * kAxes);
    }
    out.recordings.push_back(std::move(s));
  }
  return out;
}

PipelineConfig FastConfig(std::uint64_t seed) {
  PipelineConfig c;
  c.seed = seed;
  c.edge_train.seed = seed;
  c.cloud_train.seed = seed + 1;
  c.edge_train.max_epochs = 40;
  c.cloud_train.max_epochs = 40;
  c.bank_per_mode = 64;
  return c;
}

TEST(SplitEdges, CoarseBinsThenOnePerIndex) {
  const std::vector<std::uint16_t> e = SplitEdges(100, 31, 3);
  ASSERT_EQ(e.size(), 31u);  // 10 coarse + 20 fine bins
  EXPECT_EQ(e.front(), 1);   // DC dropped
  EXPECT_EQ(e[1], 4);
  EXPECT_EQ(e[9], 28);
  EXPECT_EQ(e[10], 31);
  EXPECT_EQ(e.back(), 51);   // one past the Nyquist index 50
  const std::vector<std::uint16_t> coarse = SplitEdges(100, 51, 5);
  ASSERT_EQ(coarse.size(), 11u);
  EXPECT_EQ(coarse[10], 51);
  for (std::size_t i = 1; i < e.size(); ++i) EXPECT_LT(e[i - 1], e[i]);
}

TEST(Training, LossDecreasesOnRealWindows) {
  const auto& full = testing::ShippedDataset();
  ASSERT_TRUE(full.ok()) << full.error;
  const Dataset data = Subset(full.value, 40);
  std::vector<WindowRef> low;
  for (const WindowRef& ref : Windows(data)) {
    if (data.recordings[ref.recording].name == "normal_low") low.push_back(ref);
  }
  ASSERT_GE(low.size(), 60u);
  SpectralFeatures extractor(100, 3);
  const SpectrumSpecData spec{1e-5f, SplitEdges(100, 31, 3)};
  Eigen::MatrixXf f = extractor.Matrix(data, low, spec);
  const Eigen::VectorXf mean = f.rowwise().mean();
  f.colwise() -= mean;
  const Eigen::VectorXf sd = (f.array().square().rowwise().mean().sqrt() + 1e-3f).matrix();
  f = sd.cwiseInverse().asDiagonal() * f;
  // Every fourth capture validates (captures drift slowly within a session).
  std::vector<Eigen::Index> tr, va;
  for (Eigen::Index i = 0; i < f.cols(); ++i) (low[static_cast<std::size_t>(i)].capture % 4 == 3 ? va : tr).push_back(i);
  Eigen::MatrixXf train(90, static_cast<Eigen::Index>(tr.size()));
  Eigen::MatrixXf validation(90, static_cast<Eigen::Index>(va.size()));
  for (std::size_t i = 0; i < tr.size(); ++i) train.col(static_cast<Eigen::Index>(i)) = f.col(tr[i]);
  for (std::size_t i = 0; i < va.size(); ++i) validation.col(static_cast<Eigen::Index>(i)) = f.col(va[i]);
  FloatNetwork net = MakeAutoencoder({90, 8, 90}, 11);
  const float before = MeanReconstructionMse(net, validation);
  TrainOptions options;
  options.max_epochs = 60;
  options.learning_rate = 3e-3f;
  const TrainResult result = TrainAutoencoder(net, train, validation, options);
  ASSERT_TRUE(result.ok()) << result.error;
  const float after = MeanReconstructionMse(net, validation);
  EXPECT_LT(after, 0.7f * before);
  EXPECT_LT(result.final_train_loss, 1.0f);  // below the variance of standardised features
}

TEST(FitModes, RecoversSeparatedClustersOrderedByEnergy) {
  std::mt19937_64 rng(3);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  const int per = 50;
  Eigen::MatrixXf x(6, 4 * per);
  const float levels[4] = {3.0f, -2.0f, 0.5f, 1.5f};  // deliberately out of order
  for (int m = 0; m < 4; ++m) {
    for (int i = 0; i < per; ++i) {
      for (int d = 0; d < 6; ++d) x(d, m * per + i) = levels[m] + noise(rng);
    }
  }
  SpectrumSpecData spec{1e-5f, SplitEdges(100, 51, 25)};  // 2 bins: 3 axes x 2 = 6 dims
  const ModeSelectorSpec a = FitModes(x, spec, 4, 7);
  const ModeSelectorSpec b = FitModes(x, spec, 4, 7);
  ASSERT_EQ(a.centroids.size(), 4u);
  EXPECT_EQ(a.centroids, b.centroids);  // deterministic
  for (std::size_t m = 1; m < 4; ++m) EXPECT_LT(a.centroids[m - 1][0], a.centroids[m][0]);
  // Every cluster lands on the mode of its energy rank: -2 -> 0, 0.5 -> 1, 1.5 -> 2, 3 -> 3.
  const std::uint32_t expected[4] = {3, 0, 1, 2};
  for (int m = 0; m < 4; ++m) {
    for (int i = 0; i < per; ++i) EXPECT_EQ(NearestMode(a, x.col(m * per + i).data()), expected[m]);
  }
}

class TrainedSubset : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto& full = testing::ShippedDataset();
    ASSERT_TRUE(full.ok()) << full.error;
    data_ = new Dataset(Subset(full.value, 60));
    auto trained = TrainModels(*data_, FastConfig(5));
    ASSERT_TRUE(trained.ok()) << trained.error;
    models_ = new TrainedModels(std::move(trained.value));
  }
  static void TearDownTestSuite() {
    delete models_;
    delete data_;
    models_ = nullptr;
    data_ = nullptr;
  }
  static Dataset* data_;
  static TrainedModels* models_;
};
Dataset* TrainedSubset::data_ = nullptr;
TrainedModels* TrainedSubset::models_ = nullptr;

TEST_F(TrainedSubset, ArtifactIsValidSmallAndSpectralWithFourModes) {
  ASSERT_NE(models_, nullptr);
  const std::vector<std::uint8_t>& a = models_->artifact;
  EXPECT_LE(a.size(), 16u * 1024u);
  std::vector<std::uint32_t> aligned((a.size() + 3) / 4);
  std::memcpy(aligned.data(), a.data(), a.size());
  const auto view = core::ParseArtifact(reinterpret_cast<const std::uint8_t*>(aligned.data()), a.size());
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view.value.preprocessing.kind, core::FeatureKind::kSpectrum);
  EXPECT_EQ(view.value.modes.mode_count, 4u);
  EXPECT_LT(view.value.thresholds.low, view.value.thresholds.high + 1e-6f);
  EXPECT_LE(core::RequiredArenaBytes(view.value), 4096u);
}

TEST_F(TrainedSubset, SameSeedSameBytesOtherSeedOtherBytes) {
  ASSERT_NE(models_, nullptr);
  auto again = TrainModels(*data_, FastConfig(5));
  ASSERT_TRUE(again.ok()) << again.error;
  EXPECT_EQ(again.value.artifact, models_->artifact);
  EXPECT_EQ(EncodeCloudModel(again.value.cloud), EncodeCloudModel(models_->cloud));
  auto other = TrainModels(*data_, FastConfig(6));
  ASSERT_TRUE(other.ok()) << other.error;
  EXPECT_NE(other.value.artifact, models_->artifact);
}

TEST_F(TrainedSubset, ModesFollowTheFanSpeedWithoutBeingTold) {
  ASSERT_NE(models_, nullptr);
  auto runner = EdgeRunner::Create(models_->artifact);
  ASSERT_TRUE(runner.ok()) << runner.error;
  // Every window of one normal recording should mostly land in one mode, and
  // the four speeds in four different modes.
  std::vector<std::uint32_t> majority;
  std::vector<float> values(kWindowRows * kAxes);
  for (const char* name : {"normal_off", "normal_low", "normal_med", "normal_high"}) {
    const Recording* r = data_->Find(name);
    ASSERT_NE(r, nullptr);
    std::vector<int> counts(4, 0);
    int total = 0;
    for (const WindowRef& ref : Windows(*data_)) {
      if (&data_->recordings[ref.recording] != r) continue;
      ASSERT_TRUE(WindowValues(*data_, ref, values));
      ++counts[runner.value.Run(values).mode];
      ++total;
    }
    const auto best = std::max_element(counts.begin(), counts.end());
    EXPECT_GE(*best, total * 95 / 100) << name;
    majority.push_back(static_cast<std::uint32_t>(best - counts.begin()));
  }
  EXPECT_EQ(majority, (std::vector<std::uint32_t>{0, 1, 2, 3}));
}

TEST_F(TrainedSubset, QuantizedScoresFollowTheFloatModel) {
  ASSERT_NE(models_, nullptr);
  auto runner = EdgeRunner::Create(models_->artifact);
  ASSERT_TRUE(runner.ok());
  const ScoredWindows s = ScoreWindows(*data_, DescribeWindows(*data_, 5, FastConfig(5).drift_files),
                                       runner.value, models_->cloud, &models_->edge_float);
  std::vector<double> ratio;
  for (std::size_t i = 0; i < s.windows.size(); ++i) {
    ASSERT_TRUE(std::isfinite(s.edge_score[i]));
    // Training normals: inside the calibrated range (anomalies may saturate
    // the int8 input, which changes their score but not their rank much).
    if (s.windows[i].split != Split::kTrain || s.windows[i].anomaly || s.windows[i].drift) continue;
    ratio.push_back(static_cast<double>(s.edge_score[i]) / static_cast<double>(s.edge_float_score[i]));
  }
  std::sort(ratio.begin(), ratio.end());
  // Each is divided by its own median training MSE: the middle ratio is ~1.
  EXPECT_NEAR(ratio[ratio.size() / 2], 1.0, 0.05);
  const auto auc_int8 = AucBySpeed(s, *data_, Split::kTest, s.edge_score);
  const auto auc_float = AucBySpeed(s, *data_, Split::kTest, s.edge_float_score);
  ASSERT_EQ(auc_int8.size(), auc_float.size());
  for (std::size_t i = 0; i < auc_int8.size(); ++i) EXPECT_NEAR(auc_int8[i].second, auc_float[i].second, 0.02);
}

TEST_F(TrainedSubset, CloudModelRoundTripsThroughItsFileFormat) {
  ASSERT_NE(models_, nullptr);
  const std::vector<std::uint8_t> bytes = EncodeCloudModel(models_->cloud);
  auto decoded = DecodeCloudModel(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error;
  EXPECT_EQ(EncodeCloudModel(decoded.value), bytes);
  SpectralFeatures features(100, 3);
  std::vector<float> values(300);
  const WindowRef ref = Windows(*data_)[10];
  ASSERT_TRUE(WindowValues(*data_, ref, values));
  EXPECT_EQ(Score(models_->cloud, features, values).score, Score(decoded.value, features, values).score);
  // ScoreBatch agrees with one-by-one scoring.
  Eigen::MatrixXf batch(300, 3);
  for (int j = 0; j < 3; ++j) {
    ASSERT_TRUE(WindowValues(*data_, Windows(*data_)[static_cast<std::size_t>(j * 50)],
                             std::span<float>(batch.col(j).data(), 300)));
  }
  const auto batched = ScoreBatch(models_->cloud, features, batch);
  for (int j = 0; j < 3; ++j) {
    const auto one = Score(models_->cloud, features, std::span<const float>(batch.col(j).data(), 300));
    EXPECT_NEAR(batched[static_cast<std::size_t>(j)].score, one.score, 1e-4f * std::max(1.0f, one.score));
    EXPECT_EQ(batched[static_cast<std::size_t>(j)].mode, one.mode);
  }
}

// Regression (found by cloud_model_fuzz): an empty neighbour bank, as in
// edge-float.efcm, made the reader memcpy from a null pointer.
TEST_F(TrainedSubset, EmptyNeighbourBankDecodes) {
  ASSERT_NE(models_, nullptr);
  ASSERT_EQ(models_->edge_float.modes[0].bank.cols(), 0);
  const std::vector<std::uint8_t> bytes = EncodeCloudModel(models_->edge_float);
  auto decoded = DecodeCloudModel(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error;
  EXPECT_EQ(EncodeCloudModel(decoded.value), bytes);
}

TEST_F(TrainedSubset, DamagedCloudModelsAreRefusedWithASentence) {
  ASSERT_NE(models_, nullptr);
  const std::vector<std::uint8_t> good = EncodeCloudModel(models_->cloud);
  const auto refix_crc = [](std::vector<std::uint8_t>& b) {
    const std::uint32_t crc = core::Crc32(b.data() + 16, b.size() - 16);
    std::memcpy(b.data() + 12, &crc, 4);
    const auto size = static_cast<std::uint32_t>(b.size() - 16);
    std::memcpy(b.data() + 8, &size, 4);
  };
  struct Case {
    const char* name;
    std::vector<std::uint8_t> bytes;
    const char* expect;
  };
  std::vector<Case> cases;
  cases.push_back({"empty", {}, "no EFCM header"});
  cases.push_back({"truncated", std::vector<std::uint8_t>(good.begin(), good.end() - 5), "truncated"});
  auto magic = good;
  magic[0] = 'X';
  cases.push_back({"bad magic", magic, "no EFCM header"});
  auto version = good;
  version[4] = 9;
  cases.push_back({"bad version", version, "version"});
  auto crc = good;
  crc[40] ^= 1;
  cases.push_back({"bad crc", crc, "checksum"});
  auto trailing = good;
  trailing.push_back(0);
  refix_crc(trailing);
  cases.push_back({"trailing bytes", trailing, "corrupt"});
  auto axes = good;
  const std::uint32_t many = 1000;
  std::memcpy(axes.data() + 16 + 8, &many, 4);  // payload: version, window_len, axes
  refix_crc(axes);
  cases.push_back({"absurd axes", axes, "corrupt"});
  // A window length whose FFT length (51 = 3 x 17) the core refuses, with
  // everything else consistent: the model must not decode (Score would abort).
  CloudModel odd_shape = models_->cloud;
  odd_shape.window_len = 102;
  cases.push_back({"a window the core refuses", EncodeCloudModel(odd_shape), "corrupt"});
  auto nan = good;
  const float not_a_number = std::nanf("");
  std::memcpy(nan.data() + 16 + 16, &not_a_number, 4);  // the threshold
  refix_crc(nan);
  cases.push_back({"NaN threshold", nan, "corrupt"});
  auto cut = std::vector<std::uint8_t>(good.begin(), good.begin() + static_cast<long>(good.size() / 2));
  refix_crc(cut);
  cases.push_back({"cut in half with a valid checksum", cut, "corrupt"});
  for (const Case& c : cases) {
    const auto r = DecodeCloudModel(c.bytes);
    EXPECT_FALSE(r.ok()) << c.name;
    EXPECT_NE(r.error.find(c.expect), std::string::npos) << c.name << ": " << r.error;
  }
}

TEST(Thresholds, SigmaFamilyAndDefaultChoice) {
  const core::Thresholds t = SigmaThresholds(1.0, 0.5, 2.0, 4.0);
  EXPECT_FLOAT_EQ(t.low, 2.0f);
  EXPECT_FLOAT_EQ(t.high, 3.0f);
  std::vector<SweepPoint> sweep = {
      {"sigma", 0, 0, {}, 0.00, 0.80},  // no escalation, too far below the cloud
      {"sigma", 1, 2, {}, 0.10, 0.89},  // qualifies
      {"sigma", 1, 3, {}, 0.10, 0.90},  // qualifies, same escalation, better F1
      {"sigma", 0, 4, {}, 0.30, 0.92},
  };
  const SweepPoint chosen = ChooseDefault(sweep, 0.90, 0.02);
  EXPECT_EQ(chosen.b, 3);
  // Nothing qualifies: the best F1.
  EXPECT_EQ(ChooseDefault(sweep, 0.99, 0.02).b, 4);
}

TEST(Tiers, HandComputedCase) {
  // Four windows: a clear normal, a clear anomaly, and two ambiguous ones
  // that the cloud labels (one right, one wrong).
  Dataset d;
  Recording n;
  n.name = "normal_x";
  n.counts.assign(200 * 3, 1);
  n.capture_starts = {0, 100};
  Recording a = n;
  a.name = "anomaly_x";
  a.anomaly = true;
  d.recordings = {a, n};
  ScoredWindows s;
  s.windows = DescribeWindows(d, 1, {});
  ASSERT_EQ(s.windows.size(), 4u);
  // windows 0, 1: anomaly; 2, 3: normal.
  s.edge_score = {5.0f, 1.5f, 0.1f, 1.5f};
  s.edge_mse = {0.5f, 0.5f, 0.5f, 0.5f};  // equal request sizes
  s.cloud_score = {9.0f, 0.0f, 0.0f, 9.0f};
  s.cloud_label = {1, 0, 0, 1};
  const core::Thresholds t = SigmaThresholds(0.0, 1.0, 1.0, 2.0);
  const std::vector<std::uint8_t> all(4, 1);
  const HybridResult r = EvaluateTiers(s, all, t, 1, d);
  EXPECT_DOUBLE_EQ(r.hybrid.escalation_rate, 0.5);
  // Hybrid: 5.0 -> 1 (tp), 1.5 -> cloud 0 (fn), 0.1 -> 0 (tn), 1.5 -> cloud 1 (fp).
  EXPECT_DOUBLE_EQ(r.hybrid.precision, 0.5);
  EXPECT_DOUBLE_EQ(r.hybrid.recall, 0.5);
  // Edge-only: 1.5 is the ambiguous zone's middle: the fallback says anomaly.
  EXPECT_DOUBLE_EQ(r.edge_only.recall, 1.0);
  EXPECT_DOUBLE_EQ(r.edge_only.precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.cloud_only.escalation_rate, 1.0);
  EXPECT_GT(r.cloud_only.bytes_uploaded, 0u);
  EXPECT_EQ(r.hybrid.bytes_uploaded * 2, r.cloud_only.bytes_uploaded);  // identical windows
  EXPECT_EQ(r.edge_only.bytes_uploaded, 0u);
}

TEST(EscalationBytes, MatchPythonJsonDumps) {
  const std::vector<float> w = {0.5f, -0.25f, 0.00048828125f};
  // len(json.dumps({"device_id": "fan-0001", "features": [0.5, -0.25, 0.00048828125],
  //                 "edge_mse": 0.125, "model_version": "1"})) == 107, and 98 compact.
  EXPECT_EQ(SeedEscalationBytes(w, 0.125f, 1), 107u);
  EXPECT_EQ(EdgefleetEscalationBytes(w, 0.125f, 1), 98u);
}

}  // namespace
}  // namespace edgefleet::ml
