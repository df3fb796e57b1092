#include "core/artifact.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "core/crc32.h"
#include "tests/core/fixtures.h"

namespace edgefleet {
namespace {

using core::Status;
using testing::FixCrc;
using testing::Peek;
using testing::Poke;

std::vector<std::vector<float>> SomeWindows(int n, float hz = 20.0f) {
  std::vector<std::vector<float>> windows;
  for (int i = 0; i < n; ++i) windows.push_back(testing::FanWindow(hz, 0.1f, static_cast<std::uint64_t>(i)));
  return windows;
}

const testing::BuiltModel& TimeModel() {
  static const testing::BuiltModel model = testing::BuildTimeModel(SomeWindows(64), {300, 16, 8, 16, 300}, 7);
  return model;
}

const testing::BuiltModel& ModeModel() {
  static const testing::BuiltModel model = testing::BuildSpectralModel(SomeWindows(64), {10.0f, 20.0f, 40.0f}, 7);
  return model;
}

Status Parse(const std::vector<std::uint8_t>& bytes) {
  return core::ParseArtifact(bytes.data(), bytes.size()).status;
}

TEST(Crc32, MatchesTheStandardCheckValue) {
  const std::string text = "123456789";
  EXPECT_EQ(core::Crc32(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), 0xCBF43926u);
  // Continuation: crc(a ++ b) == crc(b, crc(a)).
  const auto* p = reinterpret_cast<const std::uint8_t*>(text.data());
  EXPECT_EQ(core::Crc32(p + 4, 5, core::Crc32(p, 4)), 0xCBF43926u);
}

TEST(Artifact, ParsesWhatTheWriterWrites) {
  const auto& m = TimeModel();
  ASSERT_FALSE(m.bytes.empty());
  auto parsed = core::ParseArtifact(m.bytes.data(), m.bytes.size());
  ASSERT_TRUE(parsed.ok()) << core::ToString(parsed.status);
  const core::ModelView& v = parsed.value;
  EXPECT_STREQ(v.model_id, "test-time");
  EXPECT_EQ(v.format_version, core::kFormatVersion);
  EXPECT_EQ(v.window_len, 100u);
  EXPECT_EQ(v.axes, 3u);
  EXPECT_EQ(v.sample_rate_hz, 200u);
  EXPECT_EQ(v.preprocessing.kind, core::FeatureKind::kTime);
  EXPECT_EQ(v.preprocessing.feature_count, 300u);
  EXPECT_EQ(v.modes.mode_count, 1u);
  EXPECT_EQ(v.network_count, 1u);
  ASSERT_EQ(v.networks[0].layer_count, 4u);
  const std::uint16_t widths[] = {300, 16, 8, 16, 300};
  for (std::uint32_t l = 0; l < 4; ++l) {
    const core::LayerView layer = core::GetLayer(v.networks[0], l);
    EXPECT_EQ(layer.in, widths[l]);
    EXPECT_EQ(layer.out, widths[l + 1]);
    EXPECT_EQ(layer.weights[0], m.spec.networks[0][l].weights[0]);
  }
  EXPECT_EQ(v.thresholds.low, m.spec.thresholds.low);
  EXPECT_EQ(v.size, m.bytes.size());
  // Read in place: views point into the caller's buffer.
  EXPECT_GE(reinterpret_cast<const std::uint8_t*>(v.parts[0].offset), m.bytes.data());
  EXPECT_LT(reinterpret_cast<const std::uint8_t*>(v.parts[0].offset), m.bytes.data() + m.bytes.size());
}

TEST(Artifact, DefaultEdgeModelIsAboutTwelveKilobytes) {
  // 300-16-8-16-300 int8: the seeds' "about 12 KB" edge model.
  EXPECT_GT(TimeModel().bytes.size(), 10'000u);
  EXPECT_LT(TimeModel().bytes.size(), 16'384u);
}

TEST(Artifact, ParsesModeSelectorAndSpectralSections) {
  auto parsed = core::ParseArtifact(ModeModel().bytes.data(), ModeModel().bytes.size());
  ASSERT_TRUE(parsed.ok()) << core::ToString(parsed.status);
  EXPECT_EQ(parsed.value.preprocessing.kind, core::FeatureKind::kSpectrum);
  EXPECT_EQ(parsed.value.preprocessing.spectrum.bin_count, 25u);
  EXPECT_EQ(parsed.value.modes.mode_count, 3u);
  EXPECT_EQ(parsed.value.part_count, 3u);
}

TEST(Artifact, IgnoresBytesAfterTotalSize) {
  auto bytes = TimeModel().bytes;
  bytes.resize(bytes.size() + 4096, 0xFF);  // a flash partition larger than the model
  EXPECT_EQ(Parse(bytes), Status::kOk);
}

TEST(Artifact, RejectsEveryTruncation) {
  const auto& bytes = TimeModel().bytes;
  for (std::size_t cut = 0; cut < bytes.size(); cut += (cut < 200 ? 1 : 97)) {
    std::vector<std::uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    const Status s = Parse(prefix);
    EXPECT_TRUE(s == Status::kTruncated || s == Status::kBadArgument) << "cut at " << cut << ": " << core::ToString(s);
  }
}

TEST(Artifact, RejectsAMisalignedBuffer) {
  const auto& src = TimeModel().bytes;
  std::vector<std::uint8_t> shifted(src.size() + 1);
  std::copy(src.begin(), src.end(), shifted.begin() + 1);
  EXPECT_EQ(core::ParseArtifact(shifted.data() + 1, src.size()).status, Status::kMisaligned);
  EXPECT_EQ(core::ParseArtifact(nullptr, 100).status, Status::kBadArgument);
}

TEST(Artifact, DetectsEverySingleBitFlipOutsideTheCrcCheckedHeader) {
  const auto& bytes = TimeModel().bytes;
  for (std::size_t i = 12; i < bytes.size(); i += 37) {  // past magic, version and total size
    auto copy = bytes;
    copy[i] ^= 0x10;
    EXPECT_EQ(Parse(copy), Status::kBadCrc) << "byte " << i;
  }
}

// The table of malformed artifacts: each edit (CRC re-fixed afterwards unless
// the case is about the CRC) must be rejected with its own status.
struct Malformation {
  std::string name;
  std::function<void(std::vector<std::uint8_t>&)> edit;
  Status expected;
  bool fix_crc = true;
};

std::size_t Section(const std::vector<std::uint8_t>& b, std::uint32_t tag) {
  const std::size_t at = testing::FindSection(b, tag);
  EXPECT_NE(at, 0u);
  return at;
}

// Offset of layer `index`'s header inside the first network section.
std::size_t Layer(const std::vector<std::uint8_t>& b, std::uint32_t index) {
  std::size_t at = Section(b, core::kTagNetwork) + 8 + 4;
  for (std::uint32_t i = 0; i < index; ++i) {
    at += core::EncodedLayerSize(Peek<std::uint16_t>(b, at), Peek<std::uint16_t>(b, at + 2));
  }
  return at;
}

std::vector<Malformation> Malformations() {
  using B = std::vector<std::uint8_t>;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  return {
      {"bad magic", [](B& b) { b[0] = 'X'; }, Status::kBadMagic},
      {"future format version", [](B& b) { Poke<std::uint16_t>(b, 4, 2); }, Status::kUnsupportedVersion},
      {"wrong header size", [](B& b) { Poke<std::uint16_t>(b, 6, 64); }, Status::kBadHeader},
      {"bad crc", [](B& b) { b[b.size() - 1] ^= 1; }, Status::kBadCrc, false},
      {"payload corrupted", [](B& b) { b[b.size() / 2] ^= 0x40; }, Status::kBadCrc, false},
      {"total size beyond the buffer", [](B& b) { Poke<std::uint32_t>(b, 8, static_cast<std::uint32_t>(b.size() + 4)); }, Status::kTruncated, false},
      {"absurd total size", [](B& b) { Poke<std::uint32_t>(b, 8, 0xFFFFFFF0u); }, Status::kBadSize, false},
      {"total size not a multiple of 4", [](B& b) { Poke<std::uint32_t>(b, 8, static_cast<std::uint32_t>(b.size() - 1)); }, Status::kBadSize, false},
      {"total size below the header", [](B& b) { Poke<std::uint32_t>(b, 8, 16); }, Status::kBadSize, false},
      {"empty model id", [](B& b) { b[16] = 0; }, Status::kBadHeader},
      {"control character in model id", [](B& b) { b[17] = 0x07; }, Status::kBadHeader},
      {"text after the id's terminator", [](B& b) { b[30] = 'x'; }, Status::kBadHeader},
      {"zero window length", [](B& b) { Poke<std::uint16_t>(b, 32, 0); }, Status::kBadHeader},
      {"absurd window length", [](B& b) { Poke<std::uint16_t>(b, 32, 60000); }, Status::kBadHeader},
      {"window that does not match the features", [](B& b) { Poke<std::uint16_t>(b, 32, 50); }, Status::kBadShape},
      {"absurd axis count", [](B& b) { Poke<std::uint16_t>(b, 34, 9); }, Status::kBadHeader},
      {"absurd section count", [](B& b) { Poke<std::uint16_t>(b, 36, 4000); }, Status::kBadSize},
      {"too few sections declared", [](B& b) { Poke<std::uint16_t>(b, 36, 3); }, Status::kMissingSection},
      {"unknown flags", [](B& b) { Poke<std::uint16_t>(b, 38, 1); }, Status::kBadHeader},
      {"zero sample rate", [](B& b) { Poke<std::uint32_t>(b, 40, 0); }, Status::kBadHeader},
      {"reserved header word set", [](B& b) { Poke<std::uint32_t>(b, 44, 1); }, Status::kBadHeader},
      {"unknown section tag", [](B& b) { Poke(b, Section(b, core::kTagThresholds), core::SectionTag('X', 'X', 'X', 'X')); }, Status::kBadSection},
      {"sections out of order", [](B& b) { Poke(b, Section(b, core::kTagPreprocessing), core::kTagThresholds); }, Status::kMissingSection},
      {"section length not a multiple of 4", [](B& b) { Poke<std::uint32_t>(b, Section(b, core::kTagThresholds) + 4, 23); }, Status::kBadSection},
      {"section longer than the artifact", [](B& b) { Poke<std::uint32_t>(b, Section(b, core::kTagThresholds) + 4, 1u << 20); }, Status::kTruncated},
      {"section shorter than its content", [](B& b) { Poke<std::uint32_t>(b, Section(b, core::kTagThresholds) + 4, 20); }, Status::kTruncated},
      {"unknown feature kind", [](B& b) { Poke<std::uint32_t>(b, Section(b, core::kTagPreprocessing) + 8, 7); }, Status::kBadPreprocessing},
      {"unknown window function", [](B& b) { Poke<std::uint32_t>(b, Section(b, core::kTagPreprocessing) + 12, 5); }, Status::kBadPreprocessing},
      {"feature count that does not match the window", [](B& b) { Poke<std::uint32_t>(b, Section(b, core::kTagPreprocessing) + 16, 299); }, Status::kBadShape},
      {"too many layers", [](B& b) { Poke<std::uint32_t>(b, Section(b, core::kTagNetwork) + 8, 9); }, Status::kBadSize},
      {"no layers", [](B& b) { Poke<std::uint32_t>(b, Section(b, core::kTagNetwork) + 8, 0); }, Status::kBadSize},
      {"absurd layer width", [](B& b) { Poke<std::uint16_t>(b, Layer(b, 1) + 2, 60000); }, Status::kBadSize},
      {"zero layer width", [](B& b) { Poke<std::uint16_t>(b, Layer(b, 0) + 2, 0); }, Status::kBadSize},
      {"layers that do not chain", [](B& b) { Poke<std::uint16_t>(b, Layer(b, 2), 9); }, Status::kBadShape},
      {"unknown activation", [](B& b) { b[Layer(b, 0) + 4] = 3; }, Status::kBadSection},
      {"zero input scale", [](B& b) { Poke<float>(b, Layer(b, 0) + 8, 0.0f); }, Status::kBadQuantization},
      {"NaN output scale", [nan](B& b) { Poke<float>(b, Layer(b, 0) + 16, nan); }, Status::kBadQuantization},
      {"zero point out of int8", [](B& b) { Poke<std::int32_t>(b, Layer(b, 0) + 12, 300); }, Status::kBadQuantization},
      {"scales that do not chain", [](B& b) { Poke<float>(b, Layer(b, 1) + 8, 123.0f); }, Status::kBadQuantization},
      {"negative weight scale", [](B& b) { Poke<float>(b, Layer(b, 0) + 24, -1.0f); }, Status::kBadQuantization},
      {"negative multiplier", [](B& b) { Poke<std::int32_t>(b, Layer(b, 0) + 24 + 4 * 16, -5); }, Status::kBadQuantization},
      {"bias that could overflow the accumulator", [](B& b) { Poke<std::int32_t>(b, Layer(b, 0) + 24 + 8 * 16, 0x7FFFFFFF); }, Status::kBadQuantization},
      {"shift out of range", [](B& b) { Poke<std::int8_t>(b, Layer(b, 0) + 24 + 12 * 16, 40); }, Status::kBadQuantization},
      {"normalisation of neither features nor axes", [](B& b) { Poke<std::uint32_t>(b, Section(b, core::kTagPart) + 20, 7); }, Status::kBadShape},
      {"part for a network that does not exist", [](B& b) { Poke<std::uint32_t>(b, Section(b, core::kTagPart) + 12, 3); }, Status::kBadSection},
      {"part for a mode that does not exist", [](B& b) { Poke<std::uint32_t>(b, Section(b, core::kTagPart) + 8, 1); }, Status::kBadSection},
      {"zero score scale", [](B& b) { Poke<float>(b, Section(b, core::kTagPart) + 16, 0.0f); }, Status::kBadQuantization},
      {"infinite normalisation", [](B& b) { Poke<float>(b, Section(b, core::kTagPart) + 24, std::numeric_limits<float>::infinity()); }, Status::kBadPreprocessing},
      {"NaN threshold", [nan](B& b) { Poke<float>(b, Section(b, core::kTagThresholds) + 8 + 16, nan); }, Status::kBadThresholds},
      {"low threshold above high", [](B& b) { Poke<float>(b, Section(b, core::kTagThresholds) + 8 + 16, 1e9f); }, Status::kBadThresholds},
      {"negative sigma", [](B& b) { Poke<float>(b, Section(b, core::kTagThresholds) + 8 + 4, -1.0f); }, Status::kBadThresholds},
  };
}

TEST(Artifact, RejectsEachMalformationWithItsStatus) {
  for (const Malformation& m : Malformations()) {
    auto bytes = TimeModel().bytes;
    m.edit(bytes);
    if (m.fix_crc) FixCrc(bytes);
    EXPECT_EQ(Parse(bytes), m.expected) << m.name << ": got " << core::ToString(Parse(bytes));
  }
}

std::vector<Malformation> SpectralMalformations() {
  using B = std::vector<std::uint8_t>;
  auto edge = [](B& b, std::uint32_t tag, std::size_t header, std::size_t i) {
    return Section(b, tag) + 8 + header + 2 * i;
  };
  return {
      {"spectral bins that do not increase", [edge](B& b) { Poke<std::uint16_t>(b, edge(b, core::kTagPreprocessing, 20, 3), 0); }, Status::kBadPreprocessing},
      {"spectral bin past the spectrum", [edge](B& b) { Poke<std::uint16_t>(b, edge(b, core::kTagPreprocessing, 20, 25), 90); }, Status::kBadPreprocessing},
      {"negative log floor", [](B& b) { Poke<float>(b, Section(b, core::kTagPreprocessing) + 8 + 16, -1.0f); }, Status::kBadPreprocessing},
      {"window length the FFT cannot factor", [](B& b) { Poke<std::uint16_t>(b, 32, 97); }, Status::kBadPreprocessing},
      {"one mode only in a selector", [](B& b) { Poke<std::uint32_t>(b, Section(b, core::kTagModeSelector) + 8, 1); }, Status::kBadSize},
      {"more modes than parts", [](B& b) { Poke<std::uint32_t>(b, Section(b, core::kTagModeSelector) + 8, 4); }, Status::kTruncated},
      {"selector bins that do not increase", [edge](B& b) { Poke<std::uint16_t>(b, edge(b, core::kTagModeSelector, 16, 1), 0); }, Status::kBadPreprocessing},
      {"nonzero padding", [](B& b) { Poke<std::uint8_t>(b, Layer(b, 3) + 24 + 12 * 75 + 75, 1); }, Status::kTruncated},
      {"duplicate mode", [](B& b) {
         const std::size_t second = Section(b, core::kTagPart) + 8 + Peek<std::uint32_t>(b, Section(b, core::kTagPart) + 4);
         Poke<std::uint32_t>(b, second + 8, 0);
       }, Status::kBadSection},
  };
}

TEST(Artifact, RejectsEachSpectralMalformationWithItsStatus) {
  for (const Malformation& m : SpectralMalformations()) {
    auto bytes = ModeModel().bytes;
    m.edit(bytes);
    if (m.fix_crc) FixCrc(bytes);
    EXPECT_EQ(Parse(bytes), m.expected) << m.name << ": got " << core::ToString(Parse(bytes));
  }
}

TEST(Artifact, RejectsANetworkThatDoesNotMapTheFeaturesOntoThemselves) {
  ml::ArtifactSpec spec = TimeModel().spec;
  spec.networks[0].pop_back();  // 300-16-8-16: the output no longer matches the input
  const ml::WriteResult written = ml::WriteArtifact(spec);
  EXPECT_FALSE(written.ok());
  EXPECT_NE(written.error.find("bad_shape"), std::string::npos) << written.error;
}

TEST(Artifact, EveryStatusHasAName) {
  for (int s = 0; s <= static_cast<int>(Status::kBadArgument); ++s) {
    EXPECT_STRNE(core::ToString(static_cast<Status>(s)), "unknown");
  }
}

}  // namespace
}  // namespace edgefleet
