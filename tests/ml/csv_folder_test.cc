// The CSV folder format (data/ceiling-fan/): what it accepts, and that every
// refusal names the file and line.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ml/dataset.h"
#include "tests/ml/dataset_test_util.h"

namespace edgefleet::ml {
namespace {

using testing::ScratchDir;
using testing::WriteText;

// `rows` rows whose x count is the row index, y = -row, z = 2048 (1 g).
std::string Rows(int rows) {
  std::string text = "x,y,z\n";
  for (int r = 0; r < rows; ++r) {
    text += std::to_string(r / 2048.0) + "," + std::to_string(-r / 2048.0) + ",1.000000\n";
  }
  return text;
}

// Loading `dir` fails with an error containing every one of `needles`.
void ExpectError(const ScratchDir& dir, const std::vector<std::string>& needles) {
  const auto loaded = LoadCsvFolder(dir.path());
  ASSERT_FALSE(loaded.ok());
  for (const std::string& needle : needles) {
    EXPECT_NE(loaded.error.find(needle), std::string::npos)
        << "expected \"" << needle << "\" in: " << loaded.error;
  }
}

TEST(CsvFolder, ReadsCountsAndDefaultCaptures) {
  ScratchDir dir;
  WriteText(dir / "normal_b.csv", Rows(450));
  WriteText(dir / "anomaly_a.csv", Rows(200));
  WriteText(dir / "README.md", "not data");
  WriteText(dir / "other.csv", "not,a,recording\n");
  const auto loaded = LoadCsvFolder(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  const Dataset& ds = loaded.value;
  ASSERT_EQ(ds.recordings.size(), 2u);
  EXPECT_EQ(ds.recordings[0].name, "anomaly_a");
  EXPECT_TRUE(ds.recordings[0].anomaly);
  EXPECT_EQ(ds.recordings[1].name, "normal_b");
  EXPECT_FALSE(ds.recordings[1].anomaly);
  const Recording& b = ds.recordings[1];
  EXPECT_EQ(b.rows(), 450u);
  EXPECT_EQ(b.capture_starts, (std::vector<std::uint32_t>{0, 200, 400}));
  EXPECT_EQ(b.CaptureEnd(2), 450u);
  for (std::size_t r = 0; r < b.rows(); ++r) {
    ASSERT_EQ(b.counts[3 * r], static_cast<std::int16_t>(r));
    ASSERT_EQ(b.counts[3 * r + 1], static_cast<std::int16_t>(-static_cast<int>(r)));
    ASSERT_EQ(b.counts[3 * r + 2], 2048);
  }
  // The 50-row remainder capture holds no 100-row window.
  EXPECT_EQ(Windows(ds).size(), 2u + 4u);
}

TEST(CsvFolder, AcceptsCrlfNoFinalNewlineAndTheDatasInconsistentRounding) {
  ScratchDir dir;
  // 0.979981 and 0.979980 are both count 2007 (0.97998046875 g) in the data.
  WriteText(dir / "normal_a.csv", "x,y,z\r\n0.979981,0.979980,-0.000488\r\n-0.012695,0,1");
  const auto loaded = LoadCsvFolder(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  EXPECT_EQ(loaded.value.recordings[0].counts,
            (std::vector<std::int16_t>{2007, 2007, -1, -26, 0, 2048}));
}

TEST(CsvFolder, UsesSegmentsForCaptureBoundaries) {
  ScratchDir dir;
  WriteText(dir / "normal_a.csv", Rows(300));
  WriteText(dir / "segments.csv",
            "csv_file,start_row,n_rows,original_path\n"
            "normal_a.csv,120,180,datasets/a/0001.csv\n"
            "normal_a.csv,0,120,datasets/a/0000.csv\n"
            "normal_gone.csv,0,200,datasets/gone/0000.csv\n");
  const auto loaded = LoadCsvFolder(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  EXPECT_EQ(loaded.value.recordings[0].capture_starts, (std::vector<std::uint32_t>{0, 120}));
  EXPECT_EQ(Windows(loaded.value).size(), 1u + 1u);
}

TEST(CsvFolder, RejectsSegmentsThatDoNotTileTheFile) {
  const std::string header = "csv_file,start_row,n_rows,original_path\n";
  {
    ScratchDir dir;
    WriteText(dir / "normal_a.csv", Rows(300));
    WriteText(dir / "segments.csv", header + "normal_a.csv,0,100,p\nnormal_a.csv,150,150,p\n");
    ExpectError(dir,
                {"segments.csv line 3", "normal_a.csv", "starts at row 150", "expected row 100"});
  }
  {
    ScratchDir dir;
    WriteText(dir / "normal_a.csv", Rows(300));
    WriteText(dir / "segments.csv", header + "normal_a.csv,0,200,p\n");
    ExpectError(dir, {"segments.csv", "[0, 200)", "300 rows"});
  }
  {
    ScratchDir dir;
    WriteText(dir / "normal_a.csv", Rows(300));
    WriteText(dir / "normal_b.csv", Rows(300));
    WriteText(dir / "segments.csv", header + "normal_a.csv,0,300,p\n");
    ExpectError(dir, {"segments.csv", "no entries for normal_b.csv"});
  }
  {
    ScratchDir dir;
    WriteText(dir / "normal_a.csv", Rows(300));
    WriteText(dir / "segments.csv", header + "normal_a.csv,zero,300,p\n");
    ExpectError(dir, {"segments.csv line 2", "start_row \"zero\""});
  }
  {
    ScratchDir dir;
    WriteText(dir / "normal_a.csv", Rows(300));
    WriteText(dir / "segments.csv", "file,start,rows\n");
    ExpectError(dir, {"segments.csv line 1", "header"});
  }
}

TEST(CsvFolder, RejectsABadHeader) {
  ScratchDir dir;
  WriteText(dir / "normal_a.csv", "ax,ay,az\n0,0,0\n");
  ExpectError(dir, {"normal_a.csv line 1", "header is \"ax,ay,az\"", "\"x,y,z\""});
}

TEST(CsvFolder, RejectsANonNumericValue) {
  ScratchDir dir;
  WriteText(dir / "normal_a.csv", "x,y,z\n0,0,0\n0,abc,0\n");
  ExpectError(dir, {"normal_a.csv line 3", "\"abc\" is not a number"});
}

TEST(CsvFolder, RejectsAValueThatIsNotAWholeCount) {
  ScratchDir dir;
  WriteText(dir / "anomaly_a.csv", "x,y,z\n0,0,0\n0.000488,0,0\n0,0,0.000300\n");
  ExpectError(dir, {"anomaly_a.csv line 4", "\"0.000300\"", "multiple of 1/2048 g"});
}

TEST(CsvFolder, RejectsMalformedRows) {
  const auto bad = [](const std::string& body, const std::vector<std::string>& needles) {
    ScratchDir dir;
    WriteText(dir / "normal_a.csv", "x,y,z\n0,0,0\n" + body);
    ExpectError(dir, needles);
  };
  bad("0,0\n", {"line 3", "found 2"});
  bad("0,0,0,0\n", {"line 3", "found more"});
  bad("\n0,0,0\n", {"line 3", "empty"});
  bad("0,nan,0\n", {"line 3", "\"nan\" is not a number"});
  bad("0,inf,0\n", {"line 3", "not a number"});
  bad("0, 0.5,0\n", {"line 3", "not a number"});
  bad("0,,0\n", {"line 3", "\"\" is not a number"});
  bad("0,0,16.5\n", {"line 3", "outside the sensor's range"});
  bad("0,0,1e400\n", {"line 3", "not a number"});
}

TEST(CsvFolder, RejectsFoldersWithoutRecordings) {
  {
    ScratchDir dir;
    ExpectError(dir, {"no normal_*.csv or anomaly_*.csv"});
  }
  {
    ScratchDir dir;
    WriteText(dir / "normal_a.csv", "x,y,z\n");
    ExpectError(dir, {"normal_a.csv", "no rows"});
  }
  {
    ScratchDir dir;
    WriteText(dir / "normal_a.csv", "");
    ExpectError(dir, {"normal_a.csv", "empty"});
  }
  {
    ScratchDir dir;
    WriteText(dir / "normal_a b.csv", Rows(10));
    ExpectError(dir, {"normal_a b.csv", "letters, digits"});
  }
  ScratchDir dir;
  WriteText(dir / "normal_a.csv", Rows(10));
  const auto not_dir = LoadCsvFolder(dir / "normal_a.csv");
  EXPECT_FALSE(not_dir.ok());
  EXPECT_NE(not_dir.error.find("is not a directory"), std::string::npos) << not_dir.error;
}

TEST(CsvFolder, PacksLosslessly) {
  ScratchDir dir;
  WriteText(dir / "normal_a.csv", Rows(450));
  WriteText(dir / "anomaly_a.csv", "x,y,z\n-1.082520,1.082520,0.000488\n");
  const auto csv = LoadCsvFolder(dir.path());
  ASSERT_TRUE(csv.ok()) << csv.error;
  ASSERT_TRUE(WritePacked(csv.value, dir / "packed.efr", 1).ok());
  const auto packed = LoadRecordings(dir / "packed.efr");
  ASSERT_TRUE(packed.ok()) << packed.error;
  EXPECT_TRUE(packed.value == csv.value);
}

}  // namespace
}  // namespace edgefleet::ml
