// The packed form: round trips, and that malformed bytes are refused with an
// error (never a crash, never different data).

#include <gtest/gtest.h>
#include <zstd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ml/dataset.h"
#include "tests/ml/dataset_test_util.h"

namespace edgefleet::ml {
namespace {

using testing::ReadBytes;
using testing::ScratchDir;

// Two recordings with uneven captures and the int16 extremes.
Dataset SmallDataset() {
  Dataset ds;
  Recording a;
  a.name = "anomaly_coin";
  a.anomaly = true;
  for (int r = 0; r < 90; ++r) {
    for (int axis = 0; axis < 3; ++axis)
      a.counts.push_back(static_cast<std::int16_t>(r * 7 - axis * 300));
  }
  a.counts[0] = -32768;
  a.counts[1] = 32767;
  a.capture_starts = {0, 30, 60};
  Recording n;
  n.name = "normal_low";
  for (int r = 0; r < 250; ++r) {
    for (int axis = 0; axis < 3; ++axis) {
      n.counts.push_back(static_cast<std::int16_t>((r * 131 + axis * 977) % 4001 - 2000));
    }
  }
  n.capture_starts = {0, 200};
  ds.recordings = {a, n};
  return ds;
}

// A file in the packed layout around any payload, compressed with a checksum.
std::vector<std::uint8_t> Frame(const std::vector<std::uint8_t>& payload) {
  std::vector<std::uint8_t> out = {'E', 'F', 'R', 'C', 1, 0, 0, 0};
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  std::vector<std::uint8_t> frame(ZSTD_compressBound(payload.size()));
  const std::size_t n =
      ZSTD_compress2(cctx, frame.data(), frame.size(), payload.data(), payload.size());
  ZSTD_freeCCtx(cctx);
  EXPECT_FALSE(ZSTD_isError(n));
  out.insert(out.end(), frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));
  return out;
}

struct PayloadBuilder {
  std::vector<std::uint8_t> bytes;
  PayloadBuilder& U8(std::uint8_t v) {
    bytes.push_back(v);
    return *this;
  }
  PayloadBuilder& U32(std::uint32_t v) {
    for (int s = 0; s < 32; s += 8) bytes.push_back(static_cast<std::uint8_t>(v >> s));
    return *this;
  }
  PayloadBuilder& Name(const std::string& name) {
    U8(static_cast<std::uint8_t>(name.size()));
    bytes.insert(bytes.end(), name.begin(), name.end());
    return *this;
  }
  PayloadBuilder& Zeros(std::size_t n) {
    bytes.insert(bytes.end(), n, 0);
    return *this;
  }
};

// One valid recording of `rows` rows in one capture, all zero.
PayloadBuilder OneRecording(const std::string& name, std::uint32_t rows) {
  PayloadBuilder p;
  p.U32(1).Name(name).U32(rows).U32(1).U32(0).Zeros(6 * std::size_t{rows});
  return p;
}

void ExpectRejected(const std::vector<std::uint8_t>& bytes, const std::string& needle) {
  const auto decoded = DecodePacked(bytes);
  EXPECT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error.find(needle), std::string::npos) << decoded.error;
}

TEST(PackedFormat, RoundTripsInMemory) {
  const Dataset ds = SmallDataset();
  const auto bytes = EncodePacked(ds, 3);
  ASSERT_TRUE(bytes.ok()) << bytes.error;
  const auto back = DecodePacked(bytes.value);
  ASSERT_TRUE(back.ok()) << back.error;
  EXPECT_TRUE(back.value == ds);
}

TEST(PackedFormat, RoundTripsThroughAFileReplacedAtomically) {
  ScratchDir dir;
  const auto path = dir / "small.efr";
  testing::WriteText(path, "an older file");
  ASSERT_TRUE(WritePacked(SmallDataset(), path, 3).ok());
  const auto back = LoadPacked(path);
  ASSERT_TRUE(back.ok()) << back.error;
  EXPECT_TRUE(back.value == SmallDataset());
  EXPECT_FALSE(std::filesystem::exists(dir / "small.efr.tmp"));
  const auto via_dispatch = LoadRecordings(path);
  ASSERT_TRUE(via_dispatch.ok()) << via_dispatch.error;
}

TEST(PackedFormat, HeaderIsAsDocumented) {
  const auto bytes = EncodePacked(SmallDataset(), 3);
  ASSERT_TRUE(bytes.ok()) << bytes.error;
  ASSERT_GT(bytes.value.size(), 13u);
  EXPECT_EQ(std::vector<std::uint8_t>(bytes.value.begin(), bytes.value.begin() + 12),
            (std::vector<std::uint8_t>{'E', 'F', 'R', 'C', 1, 0, 0, 0, 0x28, 0xb5, 0x2f, 0xfd}));
  EXPECT_NE(bytes.value[12] & 0x04, 0) << "the zstd frame must carry a content checksum";
}

TEST(PackedFormat, WriterRefusesAnInvalidDataset) {
  const auto refused = [](const Dataset& ds, const std::string& needle) {
    const auto bytes = EncodePacked(ds, 1);
    EXPECT_FALSE(bytes.ok());
    EXPECT_NE(bytes.error.find(needle), std::string::npos) << bytes.error;
  };
  refused(Dataset{}, "no recordings");
  Dataset ds = SmallDataset();
  std::swap(ds.recordings[0], ds.recordings[1]);
  refused(ds, "out of order");
  ds = SmallDataset();
  ds.recordings[1].name = "normal_coin/../x";
  refused(ds, "letters, digits");
  ds = SmallDataset();
  ds.recordings[1].name = "quiet_low";
  refused(ds, "must start with");
  ds = SmallDataset();
  ds.recordings[1].name = "normal_" + std::string(60, 'x');
  refused(ds, "1 to 64 characters");
  ds = SmallDataset();
  ds.recordings[0].anomaly = false;
  refused(ds, "anomaly flag");
  ds = SmallDataset();
  ds.recordings[0].counts.pop_back();
  refused(ds, "whole number");
  ds = SmallDataset();
  ds.recordings[0].capture_starts = {5, 30};
  refused(ds, "row 0");
  ds = SmallDataset();
  ds.recordings[0].capture_starts = {0, 60, 30};
  refused(ds, "capture 2");
  ds = SmallDataset();
  ds.recordings[0].capture_starts = {0, 90};
  refused(ds, "capture 1");
  const auto bad_level = EncodePacked(SmallDataset(), 0);
  EXPECT_FALSE(bad_level.ok());
  EXPECT_NE(bad_level.error.find("zstd level"), std::string::npos);
}

TEST(PackedFormat, EveryTruncationIsRejected) {
  const auto bytes = EncodePacked(SmallDataset(), 3);
  ASSERT_TRUE(bytes.ok()) << bytes.error;
  for (std::size_t cut = 0; cut < bytes.value.size(); ++cut) {
    const auto decoded = DecodePacked(std::span(bytes.value.data(), cut));
    EXPECT_FALSE(decoded.ok()) << "cut at " << cut;
    EXPECT_FALSE(decoded.error.empty());
  }
}

TEST(PackedFormat, EveryByteFlipIsRejectedOrHarmless) {
  const Dataset ds = SmallDataset();
  const auto bytes = EncodePacked(ds, 3);
  ASSERT_TRUE(bytes.ok()) << bytes.error;
  std::size_t rejected = 0;
  std::size_t total = 0;
  for (std::size_t i = 0; i < bytes.value.size(); ++i) {
    for (unsigned flip : {0x01u, 0x10u, 0x80u}) {  // every bit would be slow under ASan
      std::vector<std::uint8_t> bad = bytes.value;
      bad[i] = static_cast<std::uint8_t>(bad[i] ^ flip);
      const auto decoded = DecodePacked(bad);
      ++total;
      if (!decoded.ok()) {
        ++rejected;
        EXPECT_FALSE(decoded.error.empty());
      } else {
        // Only a flip zstd does not need (e.g. a larger window size) may pass.
        EXPECT_TRUE(decoded.value == ds) << "byte " << i << " flip " << flip;
      }
    }
  }
  EXPECT_GT(rejected, total * 9 / 10);
}

TEST(PackedFormat, ShippedFileRejectsCorruptionAndTruncation) {
  const std::vector<std::uint8_t> good = ReadBytes(testing::PackedPath());
  ASSERT_GT(good.size(), 1000u);
  const auto& reference = testing::ShippedDataset();
  ASSERT_TRUE(reference.ok()) << reference.error;
  std::vector<std::size_t> offsets = {
      0, 3, 4, 6, 8, 12, 13, 16, 40, good.size() - 4, good.size() - 1};
  for (std::size_t k = 1; k < 12; ++k) offsets.push_back(good.size() * k / 12);
  for (std::size_t at : offsets) {
    std::vector<std::uint8_t> bad = good;
    bad[at] = static_cast<std::uint8_t>(bad[at] ^ 0x5a);
    const auto decoded = DecodePacked(bad);
    EXPECT_TRUE(!decoded.ok() || decoded.value == reference.value) << "flip at " << at;
    EXPECT_FALSE(decoded.ok()) << "flip at " << at;
  }
  for (std::size_t k = 0; k < 8; ++k) {
    const std::size_t cut = good.size() * k / 8 + (k == 0 ? 7 : 0);
    EXPECT_FALSE(DecodePacked(std::span(good.data(), cut)).ok()) << "cut at " << cut;
  }
  EXPECT_FALSE(DecodePacked(std::span(good.data(), good.size() - 1)).ok());
}

TEST(PackedFormat, RejectsForeignHeadersAndTrailingBytes) {
  const auto bytes = EncodePacked(SmallDataset(), 3);
  ASSERT_TRUE(bytes.ok()) << bytes.error;
  std::vector<std::uint8_t> bad = bytes.value;
  bad[0] = 'X';
  ExpectRejected(bad, "does not start with \"EFRC\"");
  bad = bytes.value;
  bad[4] = 2;
  ExpectRejected(bad, "format version 2");
  bad = bytes.value;
  bad[7] = 1;
  ExpectRejected(bad, "reserved");
  bad = bytes.value;
  bad.push_back(0);
  ExpectRejected(bad, "follow its zstd frame");
  bad = bytes.value;
  bad.insert(bad.end(), bytes.value.begin() + 8, bytes.value.end());  // a second frame
  ExpectRejected(bad, "follow its zstd frame");
  ExpectRejected({}, "truncated");

  // A frame without a content checksum is not the format.
  const std::vector<std::uint8_t> payload = OneRecording("normal_x", 4).bytes;
  std::vector<std::uint8_t> unchecked = {'E', 'F', 'R', 'C', 1, 0, 0, 0};
  std::vector<std::uint8_t> frame(ZSTD_compressBound(payload.size()));
  const std::size_t n =
      ZSTD_compress(frame.data(), frame.size(), payload.data(), payload.size(), 1);
  ASSERT_FALSE(ZSTD_isError(n));
  unchecked.insert(unchecked.end(), frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));
  ExpectRejected(unchecked, "no content checksum");
}

TEST(PackedFormat, RejectsPayloadsThatLie) {
  ASSERT_TRUE(DecodePacked(Frame(OneRecording("normal_x", 4).bytes)).ok());

  ExpectRejected(Frame(PayloadBuilder().U32(0).bytes), "0 recordings");
  ExpectRejected(Frame(PayloadBuilder().U32(0xffffffff).bytes), "4294967295 recordings");
  ExpectRejected(Frame(PayloadBuilder().U32(2).bytes), "ends inside recording 0's name");
  // Sizes far beyond the bytes present are refused before any allocation.
  ExpectRejected(Frame(PayloadBuilder().U32(1).Name("normal_x").U32(0xffffffff).U32(1).bytes),
                 "claims 4294967295 rows");
  ExpectRejected(Frame(PayloadBuilder().U32(1).Name("normal_x").U32(kMaxRows).U32(kMaxRows).bytes),
                 "ends inside normal_x's captures");
  ExpectRejected(Frame(PayloadBuilder().U32(1).Name("normal_x").U32(kMaxRows).U32(1).U32(0).bytes),
                 "ends inside normal_x's samples");
  ExpectRejected(Frame(PayloadBuilder().U32(1).Name("normal_x").U32(4).U32(5).bytes),
                 "claims 4 rows in 5 captures");
  ExpectRejected(Frame(PayloadBuilder().U32(1).Name("").bytes), "1 to 64");
  ExpectRejected(Frame(PayloadBuilder().U32(1).Name("normal_../../etc").bytes), "letters, digits");
  ExpectRejected(Frame(PayloadBuilder().U32(1).Name("spare_x").bytes), "must start with");

  PayloadBuilder trailing = OneRecording("normal_x", 4);
  trailing.U8(0);
  ExpectRejected(Frame(trailing.bytes), "1 bytes follow the last recording");

  PayloadBuilder starts;
  starts.U32(1).Name("normal_x").U32(4).U32(2).U32(0).U32(4).Zeros(24);
  ExpectRejected(Frame(starts.bytes), "capture 1 starts at row 4");
  PayloadBuilder late;
  late.U32(1).Name("normal_x").U32(4).U32(1).U32(1).Zeros(24);
  ExpectRejected(Frame(late.bytes), "row 0");

  PayloadBuilder twice;
  twice.U32(2);
  for (int i = 0; i < 2; ++i) twice.Name("normal_x").U32(1).U32(1).U32(0).Zeros(6);
  ExpectRejected(Frame(twice.bytes), "out of order or repeated");
}

TEST(PackedFormat, LoadPackedNamesTheFile) {
  ScratchDir dir;
  const auto missing = LoadPacked(dir / "missing.efr");
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.error.find("missing.efr"), std::string::npos) << missing.error;

  testing::WriteText(dir / "text.efr", "x,y,z\n0,0,0\n");
  const auto text = LoadPacked(dir / "text.efr");
  EXPECT_FALSE(text.ok());
  EXPECT_NE(text.error.find("text.efr"), std::string::npos) << text.error;
  EXPECT_NE(text.error.find("EFRC"), std::string::npos) << text.error;

  const auto folder = LoadPacked(dir.path());
  EXPECT_FALSE(folder.ok());
  EXPECT_NE(folder.error.find("not a regular file"), std::string::npos) << folder.error;

  const auto nowhere = LoadRecordings(dir / "nowhere");
  EXPECT_FALSE(nowhere.ok());
  EXPECT_NE(nowhere.error.find("nowhere"), std::string::npos) << nowhere.error;
}

TEST(PackedFormat, WritePackedReportsAnUnwritablePlace) {
  ScratchDir dir;
  const auto status = WritePacked(SmallDataset(), dir / "no" / "such" / "dir.efr", 1);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error.find("dir.efr"), std::string::npos) << status.error;
}

}  // namespace
}  // namespace edgefleet::ml
