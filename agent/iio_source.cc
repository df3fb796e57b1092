// IioSource: a Linux IIO accelerometer through the buffer interface
// (Documentation/ABI/testing/sysfs-bus-iio): scan_elements/<ch>_en enables a
// channel, <ch>_index orders the record, <ch>_type says how its bytes read
// ("[be|le]:[s|u]bits/storagebits[>>shift]"), in_accel_scale converts counts
// to m/s^2; buffer/length and buffer/enable start the capture, and
// /dev/iio:deviceN then yields packed records.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/sensor_source.h"

namespace edgefleet::agent {
namespace {

using common::Error;
using common::ErrorCode;
using common::Expected;

constexpr const char* kAxisNames[kAxes] = {"x", "y", "z"};

Expected<std::string> ReadText(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Error(ErrorCode::kNotFound, "cannot read " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

Expected<void> WriteText(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Error(ErrorCode::kIo, "cannot write " + path.string());
  out << text << "\n";
  out.flush();
  if (!out) return Error(ErrorCode::kIo, "cannot write " + path.string());
  return common::Ok();
}

bool ParseUnsigned(std::string_view s, unsigned& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

Expected<IioType> ParseIioType(std::string_view text) {
  const Error bad(ErrorCode::kInvalidArgument, "IIO scan element type not understood: " + std::string(text));
  IioType t;
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return bad;
  const std::string_view endian = text.substr(0, colon);
  if (endian == "be") {
    t.big_endian = true;
  } else if (endian != "le") {
    return bad;
  }
  std::string_view rest = text.substr(colon + 1);
  if (rest.empty() || (rest[0] != 's' && rest[0] != 'u')) return bad;
  t.is_signed = rest[0] == 's';
  rest.remove_prefix(1);
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || !ParseUnsigned(rest.substr(0, slash), t.bits)) return bad;
  rest.remove_prefix(slash + 1);
  const auto shift_at = rest.find(">>");
  std::string_view storage = rest.substr(0, shift_at);
  if (const auto x = storage.find('X'); x != std::string_view::npos) return bad;  // repeat: not an accelerometer
  if (!ParseUnsigned(storage, t.storage_bits)) return bad;
  if (shift_at != std::string_view::npos && !ParseUnsigned(rest.substr(shift_at + 2), t.shift)) return bad;
  const bool storage_ok = t.storage_bits == 8 || t.storage_bits == 16 || t.storage_bits == 32 || t.storage_bits == 64;
  if (!storage_ok || t.bits == 0 || t.bits + t.shift > t.storage_bits) return bad;
  return t;
}

Expected<std::unique_ptr<IioSource>> IioSource::Open(const std::filesystem::path& sysfs_dir,
                                                     const std::filesystem::path& device_node,
                                                     std::uint32_t buffer_length) {
  std::unique_ptr<IioSource> s(new IioSource());
  s->sysfs_ = sysfs_dir;
  s->node_ = device_node;
  const auto scan = sysfs_dir / "scan_elements";
  std::error_code ec;
  if (!std::filesystem::is_directory(scan, ec)) {
    return Error(ErrorCode::kNotFound, sysfs_dir.string() + " has no scan_elements: not an IIO buffered device");
  }
  // Only x, y, z in the record.
  for (const auto& entry : std::filesystem::directory_iterator(scan, ec)) {
    const std::string file = entry.path().filename().string();
    if (file.size() > 3 && file.ends_with("_en")) {
      const bool wanted = file == "in_accel_x_en" || file == "in_accel_y_en" || file == "in_accel_z_en";
      EDGEFLEET_RETURN_IF_ERROR(WriteText(entry.path(), wanted ? "1" : "0"));
    }
  }
  struct Channel {
    unsigned index;
    std::size_t axis;
  };
  std::vector<Channel> order;
  double shared_scale = 0;
  if (auto text = ReadText(sysfs_dir / "in_accel_scale"); text.ok()) shared_scale = std::atof(text.value().c_str());
  for (std::size_t axis = 0; axis < kAxes; ++axis) {
    const std::string base = std::string("in_accel_") + kAxisNames[axis];
    EDGEFLEET_ASSIGN_OR_RETURN(const std::string type_text, ReadText(scan / (base + "_type")));
    EDGEFLEET_ASSIGN_OR_RETURN(s->type_[axis], ParseIioType(type_text));
    EDGEFLEET_ASSIGN_OR_RETURN(const std::string index_text, ReadText(scan / (base + "_index")));
    unsigned index = 0;
    if (!ParseUnsigned(index_text, index)) return Error(ErrorCode::kInvalidArgument, "bad " + base + "_index");
    order.push_back({index, axis});
    double scale = shared_scale;
    if (auto own = ReadText(sysfs_dir / (base + "_scale")); own.ok()) scale = std::atof(own.value().c_str());
    if (!(scale > 0) || !std::isfinite(scale)) {
      return Error(ErrorCode::kInvalidArgument, sysfs_dir.string() + ": no positive in_accel_scale");
    }
    s->step_g_[axis] = scale / kStandardGravity;
  }
  std::sort(order.begin(), order.end(), [](const Channel& a, const Channel& b) { return a.index < b.index; });
  std::size_t offset = 0, largest = 1;
  for (const Channel& ch : order) {
    const std::size_t bytes = s->type_[ch.axis].storage_bits / 8;
    offset = (offset + bytes - 1) / bytes * bytes;  // each element aligned to its size
    s->offset_[ch.axis] = offset;
    offset += bytes;
    largest = std::max(largest, bytes);
  }
  s->record_bytes_ = (offset + largest - 1) / largest * largest;
  if (auto freq = ReadText(sysfs_dir / "sampling_frequency"); freq.ok()) s->rate_hz_ = std::atof(freq.value().c_str());
  EDGEFLEET_RETURN_IF_ERROR(WriteText(sysfs_dir / "buffer" / "enable", "0"));
  EDGEFLEET_RETURN_IF_ERROR(WriteText(sysfs_dir / "buffer" / "length", std::to_string(buffer_length)));
  EDGEFLEET_RETURN_IF_ERROR(WriteText(sysfs_dir / "buffer" / "enable", "1"));
  s->fd_ = ::open(device_node.c_str(), O_RDONLY | O_CLOEXEC);
  if (s->fd_ < 0) {
    return Error(ErrorCode::kIo, "cannot open " + device_node.string() + ": " + std::strerror(errno));
  }
  return s;
}

IioSource::~IioSource() {
  if (fd_ >= 0) ::close(fd_);
  if (!sysfs_.empty()) (void)WriteText(sysfs_ / "buffer" / "enable", "0");
}

Expected<bool> IioSource::Read(std::span<float> window) {
  if (window.size() != kWindowRows * kAxes) return Error(ErrorCode::kInvalidArgument, "a window is 300 values");
  const std::size_t need = record_bytes_ * kWindowRows;
  std::vector<std::uint8_t> bytes = std::move(pending_);
  pending_.clear();
  bytes.reserve(need);
  std::uint8_t chunk[4096];
  while (bytes.size() < need) {
    const std::size_t want = std::min(sizeof chunk, need - bytes.size());
    const ssize_t got = ::read(fd_, chunk, want);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Error(ErrorCode::kIo, "reading " + node_.string() + ": " + std::strerror(errno));
    }
    if (got == 0) return false;  // the device went away (or the test's FIFO closed)
    bytes.insert(bytes.end(), chunk, chunk + got);
  }
  for (std::size_t row = 0; row < kWindowRows; ++row) {
    const std::uint8_t* record = bytes.data() + row * record_bytes_;
    for (std::size_t axis = 0; axis < kAxes; ++axis) {
      const IioType& t = type_[axis];
      const std::size_t n = t.storage_bits / 8;
      std::uint64_t raw = 0;
      for (std::size_t b = 0; b < n; ++b) {
        const std::uint64_t byte = record[offset_[axis] + (t.big_endian ? b : n - 1 - b)];
        raw = raw << 8 | byte;
      }
      raw >>= t.shift;
      const std::uint64_t mask = t.bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << t.bits) - 1;
      raw &= mask;
      std::int64_t count = static_cast<std::int64_t>(raw);
      if (t.is_signed && t.bits < 64 && (raw >> (t.bits - 1)) != 0) {
        count = static_cast<std::int64_t>(raw | ~mask);
      }
      window[row * kAxes + axis] = static_cast<float>(static_cast<double>(count) * step_g_[axis]);
    }
  }
  return true;
}

}  // namespace edgefleet::agent
