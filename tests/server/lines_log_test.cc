// LinesLog on the test machine's real filesystem: whatever the lines' sizes
// and however they are split into pieces, the file holds exactly what was
// appended, across reopenings and rotations, written directly (O_DIRECT)
// or buffered.
#include "server/api/lines_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "server/clock.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::server::api {
namespace {

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// A line of `n` bytes (the last one '\n') whose content names its index.
std::string Line(std::size_t index, std::size_t n) {
  std::string out = std::to_string(index) + ":";
  while (out.size() + 1 < n) out += static_cast<char>('a' + (out.size() + index) % 26);
  out.resize(n - 1, '.');
  return out + "\n";
}

class LinesLogTest : public ::testing::TestWithParam<bool> {
 protected:
  std::unique_ptr<LinesLog> Open(std::uint64_t rotate_bytes = 1ull << 40) {
    auto log = LinesLog::Open({path_.string(), rotate_bytes, true, GetParam()}, clock_);
    EXPECT_TRUE(log.ok()) << log.error().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  // Appends a batch of lines of random sizes (1 byte to 3 blocks), each
  // split into up to three pieces; returns the bytes appended.
  std::string AppendBatch(LinesLog& log, std::mt19937& rng, std::size_t& index) {
    std::vector<std::string> lines;
    const std::size_t count = 1 + rng() % 40;
    for (std::size_t i = 0; i < count; ++i) lines.push_back(Line(index++, 2 + rng() % 12'000));
    std::vector<std::string_view> pieces;
    std::string all;
    for (const std::string& l : lines) {
      const std::size_t cut1 = rng() % l.size();
      const std::size_t cut2 = cut1 + rng() % (l.size() - cut1);
      const std::string_view v(l);
      pieces.push_back(v.substr(0, cut1));
      pieces.push_back(v.substr(cut1, cut2 - cut1));
      pieces.push_back(v.substr(cut2));
      all += l;
    }
    auto appended = log.Append(pieces);
    EXPECT_TRUE(appended.ok()) << appended.error().ToString();
    return all;
  }

  TempDir dir_;
  std::filesystem::path path_ = dir_.path() / "logs" / "escalations.jsonl";
  ManualClock clock_{1'700'000'000'000};
};

TEST_P(LinesLogTest, HoldsExactlyWhatWasAppendedAcrossReopenings) {
  std::mt19937 rng(7);
  std::size_t index = 0;
  std::string expected;
  for (int opening = 0; opening < 4; ++opening) {
    auto log = Open();
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->size(), expected.size());
    if (GetParam()) std::printf("opening %d: %s writes\n", opening, log->direct() ? "direct" : "buffered");
    for (int batch = 0; batch < 25; ++batch) {
      expected += AppendBatch(*log, rng, index);
      ASSERT_EQ(log->size(), expected.size());
      ASSERT_EQ(std::filesystem::file_size(path_), expected.size()) << "the padding was not cut off";
    }
    ASSERT_EQ(ReadAll(path_), expected);
  }
  // An empty batch changes nothing.
  auto log = Open();
  ASSERT_TRUE(log->Append({}).ok());
  EXPECT_EQ(ReadAll(path_), expected);
}

TEST_P(LinesLogTest, RotatesBeforeAFileWouldGrowPastTheLimitAndSplitsNoLine) {
  constexpr std::uint64_t kLimit = 64 * 1024;
  std::mt19937 rng(8);
  std::size_t index = 0;
  std::string expected;
  auto log = Open(kLimit);
  ASSERT_NE(log, nullptr);
  int rotations = 0;
  for (int batch = 0; batch < 60; ++batch) {
    clock_.Advance(1);
    const std::uint64_t before = log->size();
    // One batch at a time, as the writer calls it.
    std::vector<std::string> lines{Line(index++, 1 + rng() % 9000), Line(index++, 1 + rng() % 9000)};
    const std::vector<std::string_view> pieces{lines[0], lines[1]};
    auto appended = log->Append(pieces);
    ASSERT_TRUE(appended.ok()) << appended.error().ToString();
    if (!appended->rotated_to.empty()) {
      ++rotations;
      EXPECT_GT(before + lines[0].size() + lines[1].size(), kLimit);
      EXPECT_EQ(std::filesystem::file_size(appended->rotated_to), before);
    }
    expected += lines[0] + lines[1];
  }
  EXPECT_GT(rotations, 2);
  std::vector<std::filesystem::path> files;
  for (const auto& f : std::filesystem::directory_iterator(path_.parent_path())) files.push_back(f.path());
  std::sort(files.begin(), files.end());  // escalations-<time>.jsonl sort before escalations.jsonl
  std::string all;
  for (const auto& f : files) {
    const std::string text = ReadAll(f);
    EXPECT_TRUE(text.empty() || text.back() == '\n') << f << " ends inside a line";
    all += text;
  }
  EXPECT_EQ(all, expected);
}

// A rotation that fails (here: the file was removed from under the log, so
// there is nothing to rename) is reported, and the batch is still written.
TEST_P(LinesLogTest, AFailedRotationIsReportedAndDoesNotStopTheLog) {
  auto log = Open(4096);
  ASSERT_NE(log, nullptr);
  const std::string first = Line(0, 3000);
  ASSERT_TRUE(log->Append(std::vector<std::string_view>{first}).ok());
  std::filesystem::remove(path_);
  const std::string second = Line(1, 3000);
  auto appended = log->Append(std::vector<std::string_view>{second});
  ASSERT_TRUE(appended.ok()) << appended.error().ToString();
  EXPECT_TRUE(appended->rotated_to.empty());
  EXPECT_FALSE(appended->rotate_error.empty());
  EXPECT_EQ(log->size(), first.size() + second.size());
}

INSTANTIATE_TEST_SUITE_P(DirectAndBuffered, LinesLogTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Direct" : "Buffered"; });

}  // namespace
}  // namespace edgefleet::server::api
