// Sensor sources: CSV replay gives exactly the training windows; stdin-style
// streams; an IIO accelerometer on a fake sysfs tree fed through a FIFO.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/sensor_source.h"
#include "ml/dataset.h"
#include "tests/agent/fakes.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::agent {
namespace {

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(CsvSource, ReplayOfARecordingGivesExactlyTheTrainingWindows) {
  const auto data = ml::LoadPacked(testing::SourceDir() / "data" / "ceiling-fan.efr");
  ASSERT_TRUE(data.ok()) << data.error;
  const ml::Recording* rec = data.value.Find("normal_low");
  ASSERT_NE(rec, nullptr);
  // The recordings' CSV format: header x,y,z, six decimals (as the originals).
  constexpr std::size_t kCaptures = 25;
  const std::size_t rows = rec->capture_starts[kCaptures];
  TempDir dir;
  const auto csv = dir.path() / "normal_low.csv";
  {
    std::FILE* f = std::fopen(csv.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fprintf(f, "x,y,z\n");
    for (std::size_t r = 0; r < rows; ++r) {
      std::fprintf(f, "%.6f,%.6f,%.6f\n", rec->counts[r * 3] / 2048.0, rec->counts[r * 3 + 1] / 2048.0,
                   rec->counts[r * 3 + 2] / 2048.0);
    }
    std::fclose(f);
  }
  auto source = OpenSource("csv:" + csv.string() + "@0");
  ASSERT_TRUE(source.ok()) << source.error().ToString();
  EXPECT_EQ(source.value()->rate_hz(), 0.0);
  std::vector<float> got(300), want(300);
  std::size_t windows = 0;
  const std::uint32_t recording = static_cast<std::uint32_t>(rec - data.value.recordings.data());
  for (const auto& ref : ml::Windows(data.value)) {
    if (ref.recording != recording || ref.capture >= kCaptures) continue;
    auto read = source.value()->Read(got);
    ASSERT_TRUE(read.ok()) << read.error().ToString();
    ASSERT_TRUE(read.value());
    ASSERT_TRUE(ml::WindowValues(data.value, ref, want));
    ASSERT_EQ(std::memcmp(got.data(), want.data(), sizeof(float) * 300), 0) << "window " << windows;
    ++windows;
  }
  EXPECT_EQ(windows, kCaptures * 2);
  auto end = source.value()->Read(got);
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end.value());
}

TEST(CsvSource, StdinStyleStreamSnapsToTheGridAndDropsAPartialWindow) {
  std::stringstream in;
  // Last digits rounded either way still mean the same count (data/README.md).
  for (int i = 0; i < 150; ++i) in << (i % 2 ? "0.979981" : "0.979980") << ",-0.000488,1.000000\n";
  CsvSource source(in, "stdin");
  std::vector<float> w(300);
  auto r = source.Read(w);
  ASSERT_TRUE(r.ok() && r.value());
  for (std::size_t i = 0; i < 100; ++i) {
    EXPECT_EQ(w[i * 3], 2007.0f / 2048.0f);
    EXPECT_EQ(w[i * 3 + 1], -1.0f / 2048.0f);
    EXPECT_EQ(w[i * 3 + 2], 1.0f);
  }
  r = source.Read(w);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value());
}

TEST(CsvSource, RejectsMalformedAndOffGridLinesNamingTheLine) {
  for (const char* bad : {"1,2\n", "a,b,c\n", "0.1,0.2,0.3,0.4\n", "0.0001,0,0\n", "nan,0,0\n"}) {
    std::stringstream in;
    in << "x,y,z\n0,0,0\n" << bad;
    CsvSource source(in, "stdin");
    std::vector<float> w(300);
    auto r = source.Read(w);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message().find("line 3"), std::string::npos) << r.error().message();
  }
  std::stringstream in("0.0001,0,0\n");
  CsvSource raw(in, "stdin", 0.0);  // step 0: no snapping
  std::vector<float> w(300);
  auto r = raw.Read(w);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value());
}

TEST(OpenSource, RejectsUnknownSpecs) {
  EXPECT_FALSE(OpenSource("tcp:1.2.3.4").ok());
  EXPECT_FALSE(OpenSource("csv:").ok());
  EXPECT_FALSE(OpenSource("csv:/nonexistent/file.csv").ok());
  EXPECT_FALSE(OpenSource("csv:x.csv@fast").ok());
  EXPECT_FALSE(OpenSource("iio:../etc").ok());
}

TEST(IioType, ParsesTheKernelFormat) {
  auto t = ParseIioType("le:s16/16>>0");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t.value().big_endian);
  EXPECT_TRUE(t.value().is_signed);
  EXPECT_EQ(t.value().bits, 16u);
  t = ParseIioType("be:s12/16>>4");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t.value().big_endian);
  EXPECT_EQ(t.value().bits, 12u);
  EXPECT_EQ(t.value().shift, 4u);
  for (const char* bad : {"", "le", "xx:s16/16", "le:s16/12", "le:q16/16", "le:s16/16>>4", "le:s16/16X2"}) {
    EXPECT_FALSE(ParseIioType(bad).ok()) << bad;
  }
}

// An MPU6050-like device: x, y, z, then a 64-bit timestamp (disabled by the
// source), big-endian s16 as the inv_mpu6050 driver reports.
TEST(IioSource, ReadsAFakeSysfsTreeAndAFifo) {
  TempDir dir;
  const auto sys = dir.path() / "iio:device0";
  const auto scan = sys / "scan_elements";
  const char* axes[] = {"x", "y", "z"};
  for (int i = 0; i < 3; ++i) {
    WriteFile(scan / (std::string("in_accel_") + axes[i] + "_en"), "0\n");
    WriteFile(scan / (std::string("in_accel_") + axes[i] + "_type"), "be:s16/16>>0\n");
    WriteFile(scan / (std::string("in_accel_") + axes[i] + "_index"), std::to_string(i) + "\n");
  }
  WriteFile(scan / "in_timestamp_en", "1\n");
  WriteFile(scan / "in_timestamp_type", "le:s64/64>>0\n");
  WriteFile(scan / "in_timestamp_index", "3\n");
  // +-2 g range: 16384 counts per g.
  const double scale = 9.80665 / 16384.0;
  char scale_text[64];
  std::snprintf(scale_text, sizeof scale_text, "%.9f\n", scale);
  WriteFile(sys / "in_accel_scale", scale_text);
  WriteFile(sys / "sampling_frequency", "200\n");
  WriteFile(sys / "buffer" / "enable", "0\n");
  WriteFile(sys / "buffer" / "length", "0\n");
  const auto fifo = dir.path() / "iio_device0";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);

  std::vector<std::int16_t> counts;
  for (int i = 0; i < 250 * 3; ++i) counts.push_back(static_cast<std::int16_t>((i * 37) % 20000 - 10000));
  std::thread writer([&] {
    std::FILE* f = std::fopen(fifo.c_str(), "wb");
    if (f == nullptr) return;
    for (std::int16_t c : counts) {  // 6-byte records (timestamp disabled), big-endian
      const std::uint16_t u = static_cast<std::uint16_t>(c);
      const unsigned char b[2] = {static_cast<unsigned char>(u >> 8), static_cast<unsigned char>(u & 0xff)};
      std::fwrite(b, 1, 2, f);
    }
    std::fclose(f);
  });
  auto source = IioSource::Open(sys, fifo, 500);
  ASSERT_TRUE(source.ok()) << source.error().ToString();
  EXPECT_EQ(ReadFile(scan / "in_accel_x_en"), "1\n");
  EXPECT_EQ(ReadFile(scan / "in_timestamp_en"), "0\n");
  EXPECT_EQ(ReadFile(sys / "buffer" / "enable"), "1\n");
  EXPECT_EQ(ReadFile(sys / "buffer" / "length"), "500\n");
  EXPECT_EQ(source.value()->rate_hz(), 200.0);
  std::vector<float> w(300);
  for (int window = 0; window < 2; ++window) {
    auto r = source.value()->Read(w);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    ASSERT_TRUE(r.value());
    for (std::size_t i = 0; i < 300; ++i) {
      const double want_g = counts[static_cast<std::size_t>(window) * 300 + i] * scale / 9.80665;
      EXPECT_NEAR(w[i], want_g, 1e-6) << i;
    }
  }
  auto end = source.value()->Read(w);  // 50 samples left, then the FIFO closes
  writer.join();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end.value());
  source.value().reset();
  EXPECT_EQ(ReadFile(sys / "buffer" / "enable"), "0\n");
}

TEST(IioSource, RefusesADirectoryThatIsNotABufferedDevice) {
  TempDir dir;
  EXPECT_FALSE(IioSource::Open(dir.path(), dir.path() / "none").ok());
}

}  // namespace
}  // namespace edgefleet::agent
