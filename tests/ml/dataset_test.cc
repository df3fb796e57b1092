// The shipped recordings: what data/ceiling-fan.efr holds, that it is the CSV
// recordings bit for bit, and the windows and splits every trainer relies on.

#include "ml/dataset.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tests/ml/dataset_test_util.h"

namespace edgefleet::ml {
namespace {

using testing::CsvFolder;
using testing::PackedPath;
using testing::ShippedDataset;

struct TableRow {
  const char* name;
  std::size_t rows;
  std::size_t captures;
};

// data/README.md (and the recordings' own README).
constexpr std::array<TableRow, 9> kReadmeTable = {{
    {"normal_off", 115'600, 578},
    {"normal_low", 117'000, 585},
    {"normal_med", 117'600, 588},
    {"normal_high", 117'800, 589},
    {"normal_low_moving", 59'800, 299},
    {"normal_low_deploy", 57'200, 286},
    {"anomaly_low_weight", 116'000, 580},
    {"anomaly_med_weight", 116'800, 584},
    {"anomaly_high_weight", 117'000, 585},
}};

TEST(ShippedDataset, MatchesTheReadmeTable) {
  const auto& loaded = ShippedDataset();
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  const Dataset& ds = loaded.value;
  ASSERT_EQ(ds.recordings.size(), kReadmeTable.size());
  for (const TableRow& row : kReadmeTable) {
    SCOPED_TRACE(row.name);
    const Recording* rec = ds.Find(row.name);
    ASSERT_NE(rec, nullptr);
    EXPECT_EQ(rec->rows(), row.rows);
    EXPECT_EQ(rec->captures(), row.captures);
    EXPECT_EQ(rec->anomaly, std::string(row.name).starts_with("anomaly_"));
    for (std::size_t c = 0; c < rec->captures(); ++c) {
      ASSERT_EQ(rec->capture_starts[c], c * kDefaultCaptureRows);
      ASSERT_EQ(rec->CaptureEnd(c), (c + 1) * kDefaultCaptureRows);
    }
  }
  EXPECT_EQ(ds.Find("normal_nonexistent"), nullptr);
}

TEST(ShippedDataset, StartsWithTheFirstCsvRows) {
  // normal_low.csv rows 1-2: -0.012695,0.203125,0.970703 / 0.000488,0.208008,0.979981
  const auto& loaded = ShippedDataset();
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  const Recording* rec = loaded.value.Find("normal_low");
  ASSERT_NE(rec, nullptr);
  const std::vector<std::int16_t> first(rec->counts.begin(), rec->counts.begin() + 6);
  EXPECT_EQ(first, (std::vector<std::int16_t>{-26, 416, 1988, 1, 426, 2007}));
}

TEST(ShippedDataset, IsCompact) {
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(PackedPath(), ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_LT(bytes, 3'000'000u) << "9 recordings x 934,800 rows should pack to about 2.3 MB";
}

TEST(ShippedDataset, IsTheCsvRecordingsBitForBit) {
  const auto csv_dir = CsvFolder();
  if (!csv_dir) GTEST_SKIP() << "the CSV recordings (../shared/data/ceiling-fan) are not here";
  const auto csv = LoadCsvFolder(*csv_dir);
  ASSERT_TRUE(csv.ok()) << csv.error;
  const auto& packed = ShippedDataset();
  ASSERT_TRUE(packed.ok()) << packed.error;
  EXPECT_TRUE(csv.value == packed.value);

  // And a fresh packing of the CSV unpacks to the same (level 1 keeps it fast).
  const auto bytes = EncodePacked(csv.value, 1);
  ASSERT_TRUE(bytes.ok()) << bytes.error;
  const auto again = DecodePacked(bytes.value);
  ASSERT_TRUE(again.ok()) << again.error;
  EXPECT_TRUE(again.value == csv.value);

  const auto via_dispatch = LoadRecordings(*csv_dir);
  ASSERT_TRUE(via_dispatch.ok()) << via_dispatch.error;
  EXPECT_EQ(via_dispatch.value.recordings.size(), kReadmeTable.size());
}

TEST(ShippedDataset, LoadRecordingsReadsAPackedFile) {
  const auto loaded = LoadRecordings(PackedPath());
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  EXPECT_EQ(loaded.value.recordings.size(), kReadmeTable.size());
}

TEST(DefaultDataPath, HonoursEdgefleetData) {
  const char* old = std::getenv("EDGEFLEET_DATA");
  const std::string saved = old ? old : "";
  ::setenv("EDGEFLEET_DATA", "/somewhere/else.efr", 1);
  const auto path = DefaultDataPath();
  if (old)
    ::setenv("EDGEFLEET_DATA", saved.c_str(), 1);
  else
    ::unsetenv("EDGEFLEET_DATA");
  ASSERT_TRUE(path.ok()) << path.error;
  EXPECT_EQ(path.value, std::filesystem::path("/somewhere/else.efr"));
}

TEST(DefaultDataPath, FindsTheShippedFileFromTheRepositoryRoot) {
  const char* old = std::getenv("EDGEFLEET_DATA");
  const std::string saved = old ? old : "";
  ::unsetenv("EDGEFLEET_DATA");
  std::error_code ec;
  const auto cwd = std::filesystem::current_path(ec);
  std::filesystem::current_path(testing::SourceDir(), ec);
  const auto path = DefaultDataPath();
  std::filesystem::current_path(cwd, ec);
  if (old) ::setenv("EDGEFLEET_DATA", saved.c_str(), 1);
  ASSERT_TRUE(path.ok()) << path.error;
  EXPECT_TRUE(std::filesystem::equivalent(path.value, PackedPath(), ec)) << path.value;
}

TEST(Windows, AreAlignedAndNeverCrossACapture) {
  const auto& loaded = ShippedDataset();
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  const Dataset& ds = loaded.value;
  const std::vector<WindowRef> windows = Windows(ds);

  std::size_t expected = 0;
  for (const Recording& rec : ds.recordings) expected += 2 * rec.captures();
  ASSERT_EQ(windows.size(), expected);  // two 100-row windows per 200-row capture
  EXPECT_EQ(windows.size(), 9'348u);

  std::set<std::array<std::uint32_t, 3>> seen;
  for (const WindowRef& w : windows) {
    ASSERT_LT(w.recording, ds.recordings.size());
    const Recording& rec = ds.recordings[w.recording];
    ASSERT_LT(w.capture, rec.captures());
    const std::uint32_t start = rec.capture_starts[w.capture];
    ASSERT_GE(w.first_row, start);
    ASSERT_LE(w.first_row + kWindowRows, rec.CaptureEnd(w.capture));
    ASSERT_EQ(w.first_row, start + w.window_in_capture * kWindowRows);
    ASSERT_TRUE(seen.insert({w.recording, w.capture, w.window_in_capture}).second);
  }
}

TEST(Windows, FollowTheWindowLength) {
  const auto& loaded = ShippedDataset();
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  const Dataset& ds = loaded.value;
  std::size_t captures = 0;
  for (const Recording& rec : ds.recordings) captures += rec.captures();
  EXPECT_TRUE(Windows(ds, 0).empty());
  EXPECT_EQ(Windows(ds, 50).size(), 4 * captures);
  EXPECT_EQ(Windows(ds, 150).size(), captures);  // the last 50 rows of a capture are unused
  EXPECT_EQ(Windows(ds, 200).size(), captures);
  EXPECT_TRUE(Windows(ds, 201).empty());
}

TEST(Windows, ValuesAreTheCountsInG) {
  const auto& loaded = ShippedDataset();
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  const Dataset& ds = loaded.value;
  const std::vector<WindowRef> windows = Windows(ds);
  std::array<float, kAxes * kWindowRows> out{};
  for (std::size_t i = 0; i < windows.size(); i += 997) {
    const WindowRef& w = windows[i];
    ASSERT_TRUE(WindowValues(ds, w, out));
    const Recording& rec = ds.recordings[w.recording];
    for (std::size_t j = 0; j < out.size(); ++j) {
      const double expected = rec.counts[w.first_row * kAxes + j] / 2048.0;
      ASSERT_EQ(static_cast<double>(out[j]), expected);
    }
  }
  // normal_low.csv row 1, x: -0.012695 g is count -26 = -0.0126953125 g.
  const auto first = std::find_if(windows.begin(), windows.end(), [&](const WindowRef& w) {
    return ds.recordings[w.recording].name == "normal_low";
  });
  ASSERT_NE(first, windows.end());
  ASSERT_TRUE(WindowValues(ds, *first, out));
  EXPECT_EQ(out[0], -0.0126953125f);
}

TEST(Windows, ValuesRejectRefsOutsideTheirCapture) {
  const auto& loaded = ShippedDataset();
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  const Dataset& ds = loaded.value;
  std::array<float, kAxes * kWindowRows> out{};
  std::array<float, kAxes * kWindowRows + 1> ragged{};
  std::array<float, kAxes * 2 * kWindowRows + kAxes> too_long{};
  const WindowRef ok{0, 3, 1, 700};
  EXPECT_TRUE(WindowValues(ds, ok, out));
  EXPECT_FALSE(WindowValues(ds, WindowRef{99, 0, 0, 0}, out));
  EXPECT_FALSE(WindowValues(ds, WindowRef{0, 100'000, 0, 0}, out));
  EXPECT_FALSE(WindowValues(ds, WindowRef{0, 3, 0, 0}, out));    // row 0 is in capture 0
  EXPECT_FALSE(WindowValues(ds, WindowRef{0, 3, 0, 750}, out));  // runs into capture 4
  EXPECT_FALSE(WindowValues(ds, ok, ragged));
  EXPECT_FALSE(WindowValues(ds, ok, too_long));
  EXPECT_FALSE(WindowValues(ds, ok, std::span<float>()));
}

TEST(Split, IsAboutSeventyFifteenFifteenPerRecording) {
  const auto& loaded = ShippedDataset();
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  for (std::uint64_t seed : {0ull, 1ull, 42ull}) {
    for (const Recording& rec : loaded.value.recordings) {
      SCOPED_TRACE(rec.name + " seed " + std::to_string(seed));
      std::map<Split, double> share;
      for (std::uint32_t c = 0; c < rec.captures(); ++c) share[AssignSplit(rec.name, c, seed)] += 1;
      for (auto& [split, n] : share) n /= static_cast<double>(rec.captures());
      // Independent per capture: with ~300-590 captures a share is within a
      // few points of its target (0.06 is over 3 standard deviations at 286).
      EXPECT_NEAR(share[Split::kTrain], 0.70, 0.08);
      EXPECT_NEAR(share[Split::kValidation], 0.15, 0.06);
      EXPECT_NEAR(share[Split::kTest], 0.15, 0.06);
    }
  }
}

TEST(Split, AllWindowsOfACaptureShareOneSide) {
  const auto& loaded = ShippedDataset();
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  const Dataset& ds = loaded.value;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::set<Split>> sides;
  for (const WindowRef& w : Windows(ds, 50)) {
    sides[{w.recording, w.capture}].insert(
        AssignSplit(ds.recordings[w.recording].name, w.capture, 7));
  }
  for (const auto& [capture, splits] : sides) EXPECT_EQ(splits.size(), 1u);
}

TEST(Split, SameSeedSameSplitOtherSeedOtherSplit) {
  const auto& loaded = ShippedDataset();
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  std::size_t total = 0;
  std::size_t moved = 0;
  for (const Recording& rec : loaded.value.recordings) {
    for (std::uint32_t c = 0; c < rec.captures(); ++c) {
      const Split a = AssignSplit(rec.name, c, 1234);
      ASSERT_EQ(a, AssignSplit(rec.name, c, 1234));
      moved += a != AssignSplit(rec.name, c, 1235) ? 1u : 0u;
      ++total;
    }
  }
  // Two independent draws differ with probability 1 - (.7² + .15² + .15²) = 0.465.
  EXPECT_GT(static_cast<double>(moved) / static_cast<double>(total), 0.40);
}

TEST(Split, DependsOnTheRecordingName) {
  std::size_t same = 0;
  for (std::uint32_t c = 0; c < 500; ++c) {
    same += AssignSplit("normal_low", c, 0) == AssignSplit("normal_med", c, 0) ? 1u : 0u;
  }
  EXPECT_LT(same, 350u);
}

// Evaluation reports cite splits by seed: a change here silently changes them.
TEST(Split, IsPinned) {
  const auto digits = [](std::string_view name, std::uint64_t seed) {
    std::string out;
    for (std::uint32_t c = 0; c < 32; ++c) {
      out += static_cast<char>('0' + static_cast<int>(AssignSplit(name, c, seed)));
    }
    return out;
  };
  // 0 train, 1 validation, 2 test; also computed by an independent Python
  // transcription of the algorithm in data/README.md.
  EXPECT_EQ(digits("normal_low", 0), "01000000010211010000120020000001");
  EXPECT_EQ(digits("anomaly_high_weight", 42), "00000002000020100000001000200110");
}

TEST(Split, HonoursTheFractions) {
  for (std::uint32_t c = 0; c < 200; ++c) {
    EXPECT_EQ(AssignSplit("normal_off", c, 3, 1.0, 0.0), Split::kTrain);
    EXPECT_EQ(AssignSplit("normal_off", c, 3, 0.0, 1.0), Split::kValidation);
    EXPECT_EQ(AssignSplit("normal_off", c, 3, 0.0, 0.0), Split::kTest);
  }
}

TEST(Split, HasNames) {
  EXPECT_STREQ(ToString(Split::kTrain), "train");
  EXPECT_STREQ(ToString(Split::kValidation), "validation");
  EXPECT_STREQ(ToString(Split::kTest), "test");
}

}  // namespace
}  // namespace edgefleet::ml
