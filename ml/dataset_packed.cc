#include "ml/dataset.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>


// The packed form of the recordings (byte layout: data/README.md).
#include "ml/dataset_internal.h"

namespace edgefleet::ml {
namespace {

using namespace internal;

// ---------------------------------------------------------------------------
// Packed form (byte layout: data/README.md)

constexpr char kMagic[4] = {'E', 'F', 'R', 'C'};
constexpr std::uint16_t kFormatVersion = 1;
constexpr std::size_t kHeaderBytes = 8;  // magic, u16 version, u16 reserved (0)
constexpr std::size_t kMaxPackedBytes = std::size_t{256} << 20;   // file
constexpr std::size_t kMaxPayloadBytes = std::size_t{256} << 20;  // after decompression
// 8 MiB: what level 19 uses on this data, and the most a decoder will allocate
// for the window whatever a (corrupt) frame header claims.
constexpr int kZstdWindowLog = 23;

void PutU8(std::vector<std::uint8_t>& out, std::uint8_t v) { out.push_back(v); }
void PutU16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v & 0xffu));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void PutU32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

// Bounds-checked little-endian reads over the decompressed payload.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  std::size_t remaining() const { return bytes_.size() - pos_; }

  bool U8(std::uint8_t& v) {
    if (remaining() < 1) return false;
    v = bytes_[pos_++];
    return true;
  }
  bool U32(std::uint32_t& v) {
    if (remaining() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v |= std::uint32_t{bytes_[pos_++]} << (8 * i);
    return true;
  }
  bool Bytes(std::size_t n, std::span<const std::uint8_t>& out) {
    if (remaining() < n) return false;
    out = bytes_.subspan(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

std::vector<std::uint8_t> BuildPayload(const Dataset& dataset) {
  std::size_t size = 4;
  for (const Recording& rec : dataset.recordings) {
    size += 1 + rec.name.size() + 8 + 4 * rec.captures() + 2 * rec.counts.size();
  }
  std::vector<std::uint8_t> out;
  out.reserve(size);
  PutU32(out, static_cast<std::uint32_t>(dataset.recordings.size()));
  for (const Recording& rec : dataset.recordings) {
    PutU8(out, static_cast<std::uint8_t>(rec.name.size()));
    out.insert(out.end(), rec.name.begin(), rec.name.end());
    PutU32(out, static_cast<std::uint32_t>(rec.rows()));
    PutU32(out, static_cast<std::uint32_t>(rec.captures()));
    for (std::uint32_t start : rec.capture_starts) PutU32(out, start);
    // Column-major byte planes: per axis, the low bytes of every row, then the
    // high bytes. The high bytes barely change, so zstd all but erases them;
    // measured on this data, this beats delta or zigzag-delta coding.
    const std::size_t rows = rec.rows();
    for (std::size_t axis = 0; axis < kAxes; ++axis) {
      for (int shift : {0, 8}) {
        for (std::size_t r = 0; r < rows; ++r) {
          const auto u = static_cast<std::uint16_t>(rec.counts[r * kAxes + axis]);
          out.push_back(static_cast<std::uint8_t>(u >> shift));
        }
      }
    }
  }
  return out;
}

DataResult<Dataset> ParsePayload(std::span<const std::uint8_t> payload) {
  using R = DataResult<Dataset>;
  Reader in(payload);
  const auto truncated = [](const std::string& where) {
    return R::Fail("the packed data is corrupt: it ends inside " + where + ".");
  };
  std::uint32_t n_recordings = 0;
  if (!in.U32(n_recordings)) return truncated("the recording count");
  if (n_recordings == 0 || n_recordings > kMaxRecordings) {
    return R::Fail("the packed data is corrupt: it claims " + std::to_string(n_recordings) +
                   " recordings (1 to " + std::to_string(kMaxRecordings) + " allowed).");
  }

  Dataset dataset;
  dataset.recordings.reserve(n_recordings);
  for (std::uint32_t i = 0; i < n_recordings; ++i) {
    const std::string where = "recording " + std::to_string(i);
    Recording rec;
    std::uint8_t name_len = 0;
    std::span<const std::uint8_t> name;
    if (!in.U8(name_len) || !in.Bytes(name_len, name)) return truncated(where + "'s name");
    rec.name.assign(name.begin(), name.end());
    if (std::string why = CheckName(rec.name); !why.empty()) {
      return R::Fail("the packed data is corrupt: " + where + "'s name " + Quote(rec.name) + " " +
                     why + ".");
    }
    rec.anomaly = StartsWith(rec.name, "anomaly_");

    std::uint32_t rows = 0;
    std::uint32_t n_captures = 0;
    if (!in.U32(rows) || !in.U32(n_captures)) return truncated(rec.name + "'s sizes");
    if (rows == 0 || rows > kMaxRows || n_captures == 0 || n_captures > rows) {
      return R::Fail("the packed data is corrupt: " + rec.name + " claims " + std::to_string(rows) +
                     " rows in " + std::to_string(n_captures) + " captures.");
    }
    // Sizes are checked against the bytes actually present before anything
    // is allocated from them.
    std::span<const std::uint8_t> starts;
    if (!in.Bytes(std::size_t{4} * n_captures, starts)) return truncated(rec.name + "'s captures");
    rec.capture_starts.resize(n_captures);
    for (std::size_t c = 0; c < n_captures; ++c) {
      std::uint32_t v = 0;
      for (std::size_t b = 0; b < 4; ++b) v |= std::uint32_t{starts[4 * c + b]} << (8 * b);
      rec.capture_starts[c] = v;
    }

    std::span<const std::uint8_t> planes;
    if (!in.Bytes(std::size_t{2} * kAxes * rows, planes)) return truncated(rec.name + "'s samples");
    rec.counts.resize(kAxes * rows);
    for (std::size_t axis = 0; axis < kAxes; ++axis) {
      const std::uint8_t* lo = planes.data() + 2 * axis * rows;
      const std::uint8_t* hi = lo + rows;
      for (std::size_t r = 0; r < rows; ++r) {
        const auto u = static_cast<std::uint16_t>(lo[r] | (hi[r] << 8));
        rec.counts[r * kAxes + axis] = static_cast<std::int16_t>(u);
      }
    }
    dataset.recordings.push_back(std::move(rec));
  }
  if (in.remaining() != 0) {
    return R::Fail("the packed data is corrupt: " + std::to_string(in.remaining()) +
                   " bytes follow the last recording.");
  }
  if (DataStatus valid = ValidateDataset(dataset); !valid.ok()) {
    return R::Fail("the packed data is corrupt: " + valid.error);
  }
  return R::Ok(std::move(dataset));
}

struct ZstdCCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct ZstdDCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

DataResult<std::vector<std::uint8_t>> EncodePackedImpl(const Dataset& dataset, int zstd_level) {
  using R = DataResult<std::vector<std::uint8_t>>;
  if (DataStatus valid = ValidateDataset(dataset); !valid.ok()) {
    return R::Fail("cannot pack the dataset: " + valid.error);
  }
  if (zstd_level < 1 || zstd_level > ZSTD_maxCLevel()) {
    return R::Fail("zstd level " + std::to_string(zstd_level) + " is not between 1 and " +
                   std::to_string(ZSTD_maxCLevel()) + ".");
  }
  const std::vector<std::uint8_t> payload = BuildPayload(dataset);
  if (payload.size() > kMaxPayloadBytes) {
    return R::Fail("cannot pack the dataset: it is larger than " +
                   std::to_string(kMaxPayloadBytes) + " bytes.");
  }

  std::unique_ptr<ZSTD_CCtx, ZstdCCtxDeleter> cctx(ZSTD_createCCtx());
  if (!cctx) return R::Fail("cannot create a zstd compression context.");
  for (const auto& [param, value] :
       {std::pair{ZSTD_c_compressionLevel, zstd_level}, std::pair{ZSTD_c_windowLog, kZstdWindowLog},
        std::pair{ZSTD_c_checksumFlag, 1}, std::pair{ZSTD_c_contentSizeFlag, 1}}) {
    const std::size_t rc = ZSTD_CCtx_setParameter(cctx.get(), param, value);
    if (ZSTD_isError(rc)) {
      return R::Fail(std::string("cannot configure zstd: ") + ZSTD_getErrorName(rc) + ".");
    }
  }

  std::vector<std::uint8_t> out;
  out.reserve(kHeaderBytes + ZSTD_compressBound(payload.size()));
  out.insert(out.end(), std::begin(kMagic), std::end(kMagic));
  PutU16(out, kFormatVersion);
  PutU16(out, 0);  // reserved
  out.resize(kHeaderBytes + ZSTD_compressBound(payload.size()));
  const std::size_t written =
      ZSTD_compress2(cctx.get(), out.data() + kHeaderBytes, out.size() - kHeaderBytes,
                     payload.data(), payload.size());
  if (ZSTD_isError(written)) {
    return R::Fail(std::string("zstd compression failed: ") + ZSTD_getErrorName(written) + ".");
  }
  out.resize(kHeaderBytes + written);
  return R::Ok(std::move(out));
}

DataResult<Dataset> DecodePackedImpl(std::span<const std::uint8_t> bytes) {
  using R = DataResult<Dataset>;
  if (bytes.size() < kHeaderBytes) {
    return R::Fail("the packed data is truncated: " + std::to_string(bytes.size()) +
                   " bytes, shorter than its 8-byte header.");
  }
  if (!std::equal(std::begin(kMagic), std::end(kMagic), bytes.begin(),
                  [](char m, std::uint8_t b) { return static_cast<std::uint8_t>(m) == b; })) {
    return R::Fail("the data is not a packed recordings file: it does not start with \"EFRC\".");
  }
  const auto version = static_cast<std::uint16_t>(bytes[4] | (bytes[5] << 8));
  const auto reserved = static_cast<std::uint16_t>(bytes[6] | (bytes[7] << 8));
  if (version != kFormatVersion) {
    return R::Fail("the packed data has format version " + std::to_string(version) +
                   "; this build reads version " + std::to_string(kFormatVersion) + ".");
  }
  if (reserved != 0)
    return R::Fail("the packed data is corrupt: its header's reserved field is set.");
  // The format requires one standard zstd frame (RFC 8878) that carries a
  // content checksum; the frame header descriptor's bit 2 says it does.
  constexpr std::uint8_t kZstdMagic[4] = {0x28, 0xb5, 0x2f, 0xfd};
  if (bytes.size() < kHeaderBytes + 5) {
    return R::Fail("the packed data is truncated: it ends inside its zstd frame header.");
  }
  if (!std::equal(std::begin(kZstdMagic), std::end(kZstdMagic), bytes.begin() + kHeaderBytes)) {
    return R::Fail("the packed data is corrupt: a zstd frame does not follow its header.");
  }
  if ((bytes[kHeaderBytes + 4] & 0x04u) == 0) {
    return R::Fail("the packed data is corrupt: its zstd frame has no content checksum.");
  }

  std::unique_ptr<ZSTD_DCtx, ZstdDCtxDeleter> dctx(ZSTD_createDCtx());
  if (!dctx) return R::Fail("cannot create a zstd decompression context.");
  const std::size_t rc = ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, kZstdWindowLog);
  if (ZSTD_isError(rc)) {
    return R::Fail(std::string("cannot configure zstd: ") + ZSTD_getErrorName(rc) + ".");
  }

  // Streamed into a buffer that grows with what actually decodes, so a frame
  // header that lies about its size cannot make us allocate for it.
  ZSTD_inBuffer in{bytes.data() + kHeaderBytes, bytes.size() - kHeaderBytes, 0};
  std::vector<std::uint8_t> payload;
  std::size_t produced = 0;
  const std::size_t step = ZSTD_DStreamOutSize();
  for (;;) {
    if (payload.size() - produced < step && payload.size() < kMaxPayloadBytes) {
      payload.resize(std::min(kMaxPayloadBytes, std::max(2 * payload.size(), 4 * step)));
    }
    if (payload.size() == produced) {
      return R::Fail("the packed data is corrupt: it decompresses to more than " +
                     std::to_string(kMaxPayloadBytes) + " bytes.");
    }
    ZSTD_outBuffer out{payload.data() + produced, payload.size() - produced, 0};
    const std::size_t left = ZSTD_decompressStream(dctx.get(), &out, &in);
    produced += out.pos;
    if (ZSTD_isError(left)) {
      return R::Fail(std::string("the packed data is corrupt (zstd: ") + ZSTD_getErrorName(left) +
                     ").");
    }
    if (left == 0) break;  // frame complete, content checksum verified
    if (in.pos == in.size && out.pos < out.size) {
      return R::Fail("the packed data is truncated: its zstd frame is incomplete.");
    }
  }
  if (in.pos != in.size) {
    return R::Fail("the packed data is corrupt: " + std::to_string(in.size - in.pos) +
                   " bytes follow its zstd frame.");
  }
  payload.resize(produced);
  return ParsePayload(payload);
}



}  // namespace

DataStatus WriteFileAtomically(const fs::path& path, std::span<const std::uint8_t> bytes) {
  const fs::path tmp = fs::path(path).concat(".tmp");
  const auto fail = [&](const std::string& action, int err) {
    ::unlink(tmp.c_str());
    return DataStatus{"cannot " + action + " " + path.string() + ": " + ErrnoText(err) + "."};
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return DataStatus{"cannot create " + tmp.string() + ": " + ErrnoText(errno) + "."};
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return fail("write", err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return fail("sync", err);
  }
  if (::close(fd) != 0) return fail("write", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("replace", errno);

  fs::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    return DataStatus{"cannot sync the directory of " + path.string() + ": " + ErrnoText(errno) +
                      "."};
  const int sync_rc = ::fsync(dir_fd);
  const int sync_err = errno;
  ::close(dir_fd);
  if (sync_rc != 0) {
    return DataStatus{"cannot sync the directory of " + path.string() + ": " + ErrnoText(sync_err) +
                      "."};
  }
  return DataStatus{};
}

DataResult<std::vector<std::uint8_t>> EncodePacked(const Dataset& dataset, int zstd_level) {
  return Guarded("packing the dataset", [&] { return EncodePackedImpl(dataset, zstd_level); });
}

DataResult<Dataset> DecodePacked(std::span<const std::uint8_t> bytes) {
  return Guarded("unpacking the dataset", [&] { return DecodePackedImpl(bytes); });
}

DataResult<Dataset> LoadPacked(const std::filesystem::path& path) {
  using R = DataResult<Dataset>;
  return Guarded("loading " + path.string(), [&]() -> R {
    auto bytes = ReadFile(path, kMaxPackedBytes);
    if (!bytes.ok()) return R::Fail(bytes.error);
    auto dataset = DecodePackedImpl(
        std::span(reinterpret_cast<const std::uint8_t*>(bytes.value.data()), bytes.value.size()));
    if (!dataset.ok()) return R::Fail(path.string() + ": " + dataset.error);
    return dataset;
  });
}

DataStatus WritePacked(const Dataset& dataset, const std::filesystem::path& path, int zstd_level) {
  return Guarded("writing " + path.string(), [&]() -> DataStatus {
    auto bytes = EncodePackedImpl(dataset, zstd_level);
    if (!bytes.ok()) return DataStatus{bytes.error};
    return WriteFileAtomically(path, bytes.value);
  });
}

}  // namespace edgefleet::ml
