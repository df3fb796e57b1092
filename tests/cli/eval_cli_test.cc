// `edgefleet train` and `edgefleet eval` as a user runs them: the --scores
// file must reproduce the --json figures, and bad usage gets one sentence.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "ml/metrics.h"

namespace {

namespace fs = std::filesystem;

const fs::path kBinary = fs::path(EDGEFLEET_BINARY_DIR) / "bin" / "edgefleet";

struct Outcome {
  int status = -1;
  std::string out;
};

Outcome Execute(const std::string& args) {
  Outcome r;
  const std::string command = kBinary.string() + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) r.out.append(buffer, n);
  const int raw = ::pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

struct Row {
  std::string file, split, zone;
  double edge = 0, cloud = 0;
  int decision = 0;
};

std::vector<Row> ReadScores(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "file,capture,window,split,edge_mse,zone,cloud_mse,decision");
  std::vector<Row> rows;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::vector<std::string> f;
    std::string cell;
    while (std::getline(ss, cell, ',')) f.push_back(cell);
    EXPECT_EQ(f.size(), 8u) << line;
    if (f.size() != 8) continue;
    rows.push_back({f[0], f[3], f[5], std::stod(f[4]), std::stod(f[6]), std::stoi(f[7])});
  }
  return rows;
}

class EvalCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("edgefleet-eval-cli-" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    const Outcome train = Execute("train --out " + dir_->string() + " --quiet");
    ASSERT_EQ(train.status, 0) << train.out;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static fs::path* dir_;
};
fs::path* EvalCli::dir_ = nullptr;

TEST_F(EvalCli, ScoresFileReproducesTheJsonFigures) {
  const fs::path scores = *dir_ / "scores.csv";
  const Outcome eval = Execute("eval --models " + dir_->string() + " --json --scores " + scores.string());
  ASSERT_EQ(eval.status, 0) << eval.out;
  const nlohmann::json j = nlohmann::json::parse(eval.out);
  for (const char* key : {"edge_only", "hybrid", "cloud_only"}) {
    for (const char* m : {"precision", "recall", "f1", "auc", "escalation_rate", "bytes_uploaded"}) {
      EXPECT_TRUE(j[key].contains(m)) << key << "." << m;
    }
  }
  const std::vector<Row> rows = ReadScores(scores);
  ASSERT_FALSE(rows.empty());
  const double low = j["thresholds"]["low"];
  const double high = j["thresholds"]["high"];
  std::vector<std::uint8_t> labels, hybrid, cloud, edge;
  std::vector<float> edge_scores, cloud_scores;
  std::size_t escalated = 0;
  std::map<std::string, std::pair<std::size_t, std::size_t>> drift;  // flagged, total
  for (const Row& r : rows) {
    const bool is_drift = j["false_alarm"].contains(r.file);
    if (is_drift) {
      drift[r.file].first += static_cast<std::size_t>(r.decision);
      ++drift[r.file].second;
      continue;
    }
    ASSERT_EQ(r.split, "test") << r.file;
    const bool anomaly = r.file.rfind("anomaly_", 0) == 0;
    // The zone and the hybrid decision follow from the scores and thresholds.
    const std::string zone = r.edge < low ? "normal" : (r.edge > high ? "anomaly" : "ambiguous");
    EXPECT_EQ(r.zone, zone) << r.file;
    const int cloud_label = r.cloud > j["cloud_threshold"].get<double>() ? 1 : 0;
    if (zone == "ambiguous") {
      ++escalated;
      EXPECT_EQ(r.decision, cloud_label);
    } else {
      EXPECT_EQ(r.decision, zone == "anomaly" ? 1 : 0);
    }
    labels.push_back(anomaly ? 1 : 0);
    hybrid.push_back(static_cast<std::uint8_t>(r.decision));
    cloud.push_back(static_cast<std::uint8_t>(cloud_label));
    edge.push_back(static_cast<std::uint8_t>(zone == "anomaly" || (zone == "ambiguous" && r.edge >= (low + high) / 2)));
    edge_scores.push_back(static_cast<float>(r.edge));
    cloud_scores.push_back(static_cast<float>(r.cloud));
  }
  const auto h = edgefleet::ml::CountBinary(hybrid, labels);
  EXPECT_NEAR(h.precision(), j["hybrid"]["precision"].get<double>(), 1e-12);
  EXPECT_NEAR(h.recall(), j["hybrid"]["recall"].get<double>(), 1e-12);
  EXPECT_NEAR(h.f1(), j["hybrid"]["f1"].get<double>(), 1e-12);
  EXPECT_NEAR(static_cast<double>(escalated) / static_cast<double>(labels.size()),
              j["hybrid"]["escalation_rate"].get<double>(), 1e-12);
  const auto c = edgefleet::ml::CountBinary(cloud, labels);
  EXPECT_NEAR(c.f1(), j["cloud_only"]["f1"].get<double>(), 1e-12);
  const auto e = edgefleet::ml::CountBinary(edge, labels);
  EXPECT_NEAR(e.f1(), j["edge_only"]["f1"].get<double>(), 1e-12);
  // AUCs from the printed scores (9 significant digits).
  EXPECT_NEAR(edgefleet::ml::RocAuc(edge_scores, labels), j["edge_only"]["auc"].get<double>(), 1e-4);
  EXPECT_NEAR(edgefleet::ml::RocAuc(cloud_scores, labels), j["cloud_only"]["auc"].get<double>(), 1e-4);
  EXPECT_EQ(labels.size(), j["test_windows"].get<std::size_t>());
  ASSERT_EQ(drift.size(), j["false_alarm"].size());
  for (const auto& [file, counts] : drift) {
    EXPECT_NEAR(static_cast<double>(counts.first) / static_cast<double>(counts.second),
                j["false_alarm"][file].get<double>(), 1e-12);
  }
}

TEST_F(EvalCli, SweepFilesAreWritten) {
  const fs::path csv = *dir_ / "sweep.csv";
  const fs::path svg = *dir_ / "sweep.svg";
  const Outcome eval = Execute("eval --models " + dir_->string() + " --sweep-csv " + csv.string() + " --sweep-svg " +
                           svg.string());
  ASSERT_EQ(eval.status, 0) << eval.out;
  EXPECT_NE(eval.out.find("hybrid"), std::string::npos);
  EXPECT_GT(fs::file_size(csv), 1000u);
  std::ifstream in(svg);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("<svg"), std::string::npos);
  EXPECT_NE(text.find("cloud-only F1"), std::string::npos);
}

TEST(TrainCli, BadUsageAndMissingFilesAreOneSentence) {
  EXPECT_EQ(Execute("train").status, 2);  // --out is required
  const Outcome missing = Execute("eval --models /nonexistent-edgefleet-models");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.out.find("edgefleet: cannot open"), std::string::npos) << missing.out;
  const Outcome bad_data = Execute("train --data /nonexistent-edgefleet-data --out /tmp/x-edgefleet");
  EXPECT_EQ(bad_data.status, 1);
  EXPECT_EQ(std::count(bad_data.out.begin(), bad_data.out.end(), '\n'), 1) << bad_data.out;
}

}  // namespace
