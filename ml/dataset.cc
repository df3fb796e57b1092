#include "ml/dataset.h"

#include "ml/dataset_internal.h"

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


namespace edgefleet::ml {
namespace internal {

std::string Quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 40;
  std::string out = "\"";
  for (char c : text.substr(0, kMaxShown)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  if (text.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

std::string ErrnoText(int err) { return std::generic_category().message(err); }

DataResult<std::string> ReadFile(const fs::path& path, std::size_t max_bytes) {
  using R = DataResult<std::string>;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return R::Fail("cannot open " + path.string() + ": " + ErrnoText(errno) + ".");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return R::Fail("cannot read " + path.string() + ": " + ErrnoText(errno) + ".");
  }
  if (!S_ISREG(st.st_mode)) return R::Fail(path.string() + " is not a regular file.");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > max_bytes) {
    return R::Fail(path.string() + " is too large (" + std::to_string(size) + " bytes, at most " +
                   std::to_string(max_bytes) + ").");
  }

  std::string text(static_cast<std::size_t>(size), '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return R::Fail("cannot read " + path.string() + ": " + ErrnoText(errno) + ".");
    if (n == 0) break;  // the file shrank while we read it
    done += static_cast<std::size_t>(n);
  }
  text.resize(done);
  return R::Ok(std::move(text));
}


bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

namespace {
bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}
}  // namespace

// Empty when `name` may name a recording, else why not (a sentence fragment).
std::string CheckName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return "must be 1 to " + std::to_string(kMaxNameLength) + " characters long";
  }
  if (!std::all_of(name.begin(), name.end(), IsNameChar)) {
    return "may contain only letters, digits, '_' and '-'";
  }
  if (!StartsWith(name, "normal_") && !StartsWith(name, "anomaly_")) {
    return "must start with \"normal_\" or \"anomaly_\"";
  }
  return {};
}


}  // namespace internal

namespace {

using namespace internal;

// Splits `text` into lines, dropping one trailing '\r' per line; `pos` is
// the offset of the line after the one last returned.
struct LineCursor {
  std::string_view text;
  std::size_t pos = 0;

  bool Next(std::string_view& line) {
    if (pos >= text.size()) return false;
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = end + 1;
    return true;
  }
};

// ---------------------------------------------------------------------------
// CSV folder

constexpr std::size_t kMaxCsvBytes = std::size_t{1} << 30;  // 1 GiB
constexpr double kMaxCountError = 0.01;  // the CSV's 6th decimal is rounded inconsistently

// Parses one CSV value into a sensor count; empty on success, else why not.
std::string ParseCount(std::string_view field, std::int16_t& count) {
  double value = 0.0;
  const char* first = field.data();
  const char* last = field.data() + field.size();
  const auto [ptr, ec] = std::from_chars(first, last, value);
  if (field.empty() || ec != std::errc{} || ptr != last || !std::isfinite(value)) {
    return "value " + Quote(field) + " is not a number";
  }
  const double scaled = value * static_cast<double>(kCountsPerG);
  const double nearest = std::nearbyint(scaled);
  if (std::fabs(nearest) > 32767.0) {
    return "value " + Quote(field) + " is outside the sensor's range (|g| < 16)";
  }
  if (std::fabs(scaled - nearest) >= kMaxCountError) {
    return "value " + Quote(field) + " is not a multiple of 1/2048 g";
  }
  count = static_cast<std::int16_t>(nearest);
  return {};
}

DataResult<std::vector<std::int16_t>> ParseRecordingCsv(const std::string& file,
                                                        std::string_view text) {
  using R = DataResult<std::vector<std::int16_t>>;
  if (StartsWith(text, "\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 byte order mark

  LineCursor lines{text};
  std::string_view line;
  if (!lines.Next(line)) return R::Fail(file + " is empty; expected the header \"x,y,z\".");
  if (line != "x,y,z") {
    return R::Fail(file + " line 1: header is " + Quote(line) + ", expected \"x,y,z\".");
  }

  std::vector<std::int16_t> counts;
  counts.reserve(text.size() / 8);  // "0.000000," is 9 bytes per value in the shipped data
  std::size_t line_no = 1;
  while (lines.Next(line)) {
    ++line_no;
    const auto at = [&](const std::string& what) {
      return R::Fail(file + " line " + std::to_string(line_no) + ": " + what + ".");
    };
    if (line.empty()) {
      if (lines.pos >= text.size()) break;  // the file's final newline
      return at("line is empty");
    }
    if (counts.size() / kAxes >= kMaxRows) {
      return at("too many rows (at most " + std::to_string(kMaxRows) + ")");
    }
    std::string_view rest = line;
    for (std::size_t axis = 0; axis < kAxes; ++axis) {
      const std::size_t comma = rest.find(',');
      const bool last_axis = axis + 1 == kAxes;
      if (!last_axis && comma == std::string_view::npos) {
        return at("expected 3 values x,y,z, found " + std::to_string(axis + 1));
      }
      if (last_axis && comma != std::string_view::npos) {
        return at("expected 3 values x,y,z, found more");
      }
      const std::string_view field = last_axis ? rest : rest.substr(0, comma);
      std::int16_t count = 0;
      if (std::string why = ParseCount(field, count); !why.empty()) return at(why);
      counts.push_back(count);
      if (!last_axis) rest.remove_prefix(comma + 1);
    }
  }
  if (counts.empty()) return R::Fail(file + " has a header but no rows.");
  return R::Ok(std::move(counts));
}

struct SegmentEntry {
  std::uint64_t start = 0;
  std::uint64_t rows = 0;
  std::size_t line = 0;
};
using SegmentMap = std::map<std::string, std::vector<SegmentEntry>, std::less<>>;

bool ParseUint(std::string_view field, std::uint64_t& value) {
  const auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  return !field.empty() && ec == std::errc{} && ptr == field.data() + field.size();
}

DataResult<SegmentMap> ParseSegments(const std::string& file, std::string_view text) {
  using R = DataResult<SegmentMap>;
  LineCursor lines{text};
  std::string_view line;
  constexpr std::string_view kHeader = "csv_file,start_row,n_rows,original_path";
  if (!lines.Next(line) || line != kHeader) {
    return R::Fail(file + " line 1: header is " + Quote(line) + ", expected \"" +
                   std::string(kHeader) + "\".");
  }
  SegmentMap segments;
  std::size_t line_no = 1;
  while (lines.Next(line)) {
    ++line_no;
    const auto at = [&](const std::string& what) {
      return R::Fail(file + " line " + std::to_string(line_no) + ": " + what + ".");
    };
    if (line.empty()) {
      if (lines.pos >= text.size()) break;
      return at("line is empty");
    }
    // csv_file,start_row,n_rows,original_path; the path is kept out of the
    // dataset (data/README.md says how captures map back to it).
    std::string_view fields[3];
    std::string_view rest = line;
    for (auto& field : fields) {
      const std::size_t comma = rest.find(',');
      if (comma == std::string_view::npos) {
        return at("expected csv_file,start_row,n_rows,original_path");
      }
      field = rest.substr(0, comma);
      rest.remove_prefix(comma + 1);
    }
    SegmentEntry entry;
    entry.line = line_no;
    if (fields[0].empty()) return at("csv_file is empty");
    if (!ParseUint(fields[1], entry.start)) {
      return at("start_row " + Quote(fields[1]) + " is not a row number");
    }
    if (!ParseUint(fields[2], entry.rows) || entry.rows == 0 || entry.rows > kMaxRows) {
      return at("n_rows " + Quote(fields[2]) + " is not a row count from 1 to " +
                std::to_string(kMaxRows));
    }
    segments[std::string(fields[0])].push_back(entry);
  }
  return R::Ok(std::move(segments));
}

// Capture starts of a recording from its segments.csv entries, which must
// tile rows [0, rows) exactly.
DataResult<std::vector<std::uint32_t>> CapturesFromSegments(const std::string& segments_file,
                                                            const std::string& csv_name,
                                                            std::vector<SegmentEntry> entries,
                                                            std::size_t rows) {
  using R = DataResult<std::vector<std::uint32_t>>;
  std::sort(entries.begin(), entries.end(),
            [](const SegmentEntry& a, const SegmentEntry& b) { return a.start < b.start; });
  std::vector<std::uint32_t> starts;
  starts.reserve(entries.size());
  std::uint64_t expected = 0;
  for (const SegmentEntry& e : entries) {
    if (e.start != expected) {
      return R::Fail(segments_file + " line " + std::to_string(e.line) + ": " + csv_name +
                     " capture starts at row " + std::to_string(e.start) + ", expected row " +
                     std::to_string(expected) + " (captures must tile the file).");
    }
    starts.push_back(static_cast<std::uint32_t>(e.start));
    expected = e.start + e.rows;
    if (expected > rows) break;  // reported below
  }
  if (expected != rows) {
    return R::Fail(segments_file + " covers rows [0, " + std::to_string(expected) + ") of " +
                   csv_name + ", which has " + std::to_string(rows) + " rows.");
  }
  return R::Ok(std::move(starts));
}

std::vector<std::uint32_t> FixedCaptures(std::size_t rows) {
  std::vector<std::uint32_t> starts;
  for (std::size_t r = 0; r < rows; r += kDefaultCaptureRows) {
    starts.push_back(static_cast<std::uint32_t>(r));
  }
  return starts;
}

DataResult<Dataset> LoadCsvFolderImpl(const fs::path& dir) {
  using R = DataResult<Dataset>;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return R::Fail(dir.string() + " is not a directory.");

  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string filename = it->path().filename().string();
    const bool wanted = (StartsWith(filename, "normal_") || StartsWith(filename, "anomaly_")) &&
                        filename.size() > 4 && filename.ends_with(".csv");
    std::error_code type_ec;
    if (wanted && it->is_regular_file(type_ec)) files.push_back(it->path());
  }
  if (ec) return R::Fail("cannot list " + dir.string() + ": " + ec.message() + ".");
  if (files.empty()) {
    return R::Fail(dir.string() + " has no normal_*.csv or anomaly_*.csv files.");
  }
  if (files.size() > kMaxRecordings) {
    return R::Fail(dir.string() + " has more than " + std::to_string(kMaxRecordings) +
                   " recordings.");
  }
  std::sort(files.begin(), files.end());

  const fs::path segments_path = dir / "segments.csv";
  std::optional<SegmentMap> segments;
  if (fs::exists(segments_path, ec)) {
    auto text = ReadFile(segments_path, kMaxCsvBytes);
    if (!text.ok()) return R::Fail(text.error);
    auto parsed = ParseSegments(segments_path.string(), text.value);
    if (!parsed.ok()) return R::Fail(parsed.error);
    segments = std::move(parsed.value);
  }

  Dataset dataset;
  dataset.recordings.reserve(files.size());
  for (const fs::path& file : files) {
    Recording rec;
    rec.name = file.stem().string();
    if (std::string why = CheckName(rec.name); !why.empty()) {
      return R::Fail(file.string() + ": the recording name " + Quote(rec.name) + " " + why + ".");
    }
    rec.anomaly = StartsWith(rec.name, "anomaly_");

    auto text = ReadFile(file, kMaxCsvBytes);
    if (!text.ok()) return R::Fail(text.error);
    auto counts = ParseRecordingCsv(file.string(), text.value);
    if (!counts.ok()) return R::Fail(counts.error);
    rec.counts = std::move(counts.value);

    if (segments) {
      const std::string csv_name = file.filename().string();
      const auto found = segments->find(csv_name);
      if (found == segments->end()) {
        return R::Fail(segments_path.string() + " has no entries for " + csv_name + ".");
      }
      auto starts =
          CapturesFromSegments(segments_path.string(), csv_name, found->second, rec.rows());
      if (!starts.ok()) return R::Fail(starts.error);
      rec.capture_starts = std::move(starts.value);
    } else {
      rec.capture_starts = FixedCaptures(rec.rows());
    }
    dataset.recordings.push_back(std::move(rec));
  }
  if (DataStatus valid = ValidateDataset(dataset); !valid.ok()) {
    return R::Fail(dir.string() + ": " + valid.error);
  }
  return R::Ok(std::move(dataset));
}

// ---------------------------------------------------------------------------
// Split

std::uint64_t Mix64(std::uint64_t z) {  // the splitmix64 finaliser
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint64_t Fnv1a64(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace

// ---------------------------------------------------------------------------
// Public API

std::uint32_t Recording::CaptureEnd(std::size_t capture) const noexcept {
  return capture + 1 < capture_starts.size() ? capture_starts[capture + 1]
                                             : static_cast<std::uint32_t>(rows());
}

const Recording* Dataset::Find(std::string_view name) const noexcept {
  for (const Recording& rec : recordings) {
    if (rec.name == name) return &rec;
  }
  return nullptr;
}

DataStatus ValidateDataset(const Dataset& dataset) {
  const auto& recs = dataset.recordings;
  if (recs.empty()) return DataStatus{"the dataset has no recordings."};
  if (recs.size() > kMaxRecordings) {
    return DataStatus{"the dataset has more than " + std::to_string(kMaxRecordings) +
                      " recordings."};
  }
  for (std::size_t i = 0; i < recs.size(); ++i) {
    const Recording& rec = recs[i];
    const std::string who = "recording " + Quote(rec.name);
    if (std::string why = CheckName(rec.name); !why.empty()) {
      return DataStatus{"the recording name " + Quote(rec.name) + " " + why + "."};
    }
    if (i > 0 && !(recs[i - 1].name < rec.name)) {
      return DataStatus{who + " is out of order or repeated (recordings are sorted by name)."};
    }
    if (rec.anomaly != StartsWith(rec.name, "anomaly_")) {
      return DataStatus{who + " has an anomaly flag that contradicts its name."};
    }
    if (rec.counts.size() % kAxes != 0) {
      return DataStatus{who + " has " + std::to_string(rec.counts.size()) +
                        " counts, not a whole number of x,y,z rows."};
    }
    if (rec.rows() == 0 || rec.rows() > kMaxRows) {
      return DataStatus{who + " has " + std::to_string(rec.rows()) + " rows (1 to " +
                        std::to_string(kMaxRows) + " allowed)."};
    }
    if (rec.capture_starts.empty() || rec.capture_starts.front() != 0) {
      return DataStatus{who + " must have a capture starting at row 0."};
    }
    for (std::size_t c = 1; c < rec.capture_starts.size(); ++c) {
      if (rec.capture_starts[c] <= rec.capture_starts[c - 1] ||
          rec.capture_starts[c] >= rec.rows()) {
        return DataStatus{who + "'s capture " + std::to_string(c) + " starts at row " +
                          std::to_string(rec.capture_starts[c]) +
                          ", not after the previous capture and inside the recording."};
      }
    }
  }
  return DataStatus{};
}

DataResult<Dataset> LoadCsvFolder(const std::filesystem::path& dir) {
  return Guarded("loading " + dir.string(), [&] { return LoadCsvFolderImpl(dir); });
}


DataResult<Dataset> LoadRecordings(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return LoadCsvFolder(path);
  return LoadPacked(path);
}

DataResult<std::filesystem::path> DefaultDataPath() {
  using R = DataResult<std::filesystem::path>;
  return Guarded("looking for the recordings", [&]() -> R {
    if (const char* env = std::getenv("EDGEFLEET_DATA"); env != nullptr && *env != '\0') {
      return R::Ok(fs::path(env));
    }
    const fs::path relative = fs::path("data") / "ceiling-fan.efr";
    std::vector<fs::path> candidates;
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) candidates.push_back((exe.parent_path() / ".." / ".." / relative).lexically_normal());
    const fs::path cwd = fs::current_path(ec);
    if (!ec) candidates.push_back(cwd / relative);
    std::string looked;
    for (const fs::path& candidate : candidates) {
      if (fs::is_regular_file(candidate, ec)) return R::Ok(candidate);
      looked += (looked.empty() ? "" : " and ") + candidate.string();
    }
    return R::Fail("cannot find the packed recordings: set EDGEFLEET_DATA, or put " +
                   relative.string() + " where it is looked for (" + looked + ").");
  });
}

std::vector<WindowRef> Windows(const Dataset& dataset, std::uint32_t window_rows) {
  std::vector<WindowRef> windows;
  if (window_rows == 0) return windows;
  std::size_t total = 0;
  for (const Recording& rec : dataset.recordings) total += rec.rows() / window_rows;
  windows.reserve(total);
  for (std::size_t r = 0; r < dataset.recordings.size(); ++r) {
    const Recording& rec = dataset.recordings[r];
    for (std::size_t c = 0; c < rec.captures(); ++c) {
      const std::uint32_t start = rec.capture_starts[c];
      const std::uint32_t end = rec.CaptureEnd(c);
      std::uint32_t w = 0;
      for (std::uint32_t first = start; end - first >= window_rows; first += window_rows, ++w) {
        windows.push_back(
            WindowRef{static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(c), w, first});
      }
    }
  }
  return windows;
}

bool WindowValues(const Dataset& dataset, const WindowRef& ref, std::span<float> out) {
  if (ref.recording >= dataset.recordings.size()) return false;
  const Recording& rec = dataset.recordings[ref.recording];
  if (ref.capture >= rec.captures()) return false;
  if (out.empty() || out.size() % kAxes != 0) return false;
  const std::size_t rows = out.size() / kAxes;
  const std::size_t first = ref.first_row;
  if (first < rec.capture_starts[ref.capture] || first + rows > rec.CaptureEnd(ref.capture)) {
    return false;
  }
  constexpr float kGPerCount = 1.0f / kCountsPerG;  // exact: a power of two
  const std::int16_t* src = rec.counts.data() + first * kAxes;
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(src[i]) * kGPerCount;
  return true;
}

const char* ToString(Split split) noexcept {
  switch (split) {
    case Split::kTrain:
      return "train";
    case Split::kValidation:
      return "validation";
    case Split::kTest:
      return "test";
  }
  return "unknown";
}

Split AssignSplit(std::string_view recording, std::uint32_t capture, std::uint64_t seed,
                  double train, double validation) noexcept {
  const std::uint64_t h = Mix64(Mix64(Mix64(Fnv1a64(recording)) ^ seed) ^ capture);
  const double u = static_cast<double>(h >> 11) * 0x1.0p-53;  // uniform in [0, 1)
  if (u < train) return Split::kTrain;
  if (u < train + validation) return Split::kValidation;
  return Split::kTest;
}

}  // namespace edgefleet::ml
