// The recorded vibration data: loading, the packed on-disk form, windows and
// the train/validation/test split.
//
// What it is for: every trainer, evaluator, benchmark and the demo reads the
// ceiling-fan recordings (data/README.md) through this header. A recording is
// kept as the sensor's exact integer counts (1 count = 1/2048 g), so the CSV
// folder and the packed file load to bit-identical datasets.
//
// Two sources, one result:
//   - a CSV folder in the format of data/ceiling-fan/ (SPEC section 10): files
//     named normal_*.csv and anomaly_*.csv with header `x,y,z`, one row per
//     sample at 200 Hz, values in g that are exact multiples of 1/2048 g, and
//     optionally segments.csv giving each file's capture boundaries;
//   - the packed file (data/ceiling-fan.efr, byte layout in data/README.md):
//     "EFRC" header, then one zstd frame with a content checksum.
//
// Errors: functions that touch the disk or parse bytes return a DataResult
// whose `error` is one sentence naming the file (and line, for CSV); they never
// throw and never crash on malformed input, and every size read from a file is
// bounded (kMax* below) before anything is allocated from it.
//
// Ownership and threads: a Dataset owns all its samples. Loading functions are
// reentrant; a loaded Dataset is immutable by convention and safe to read from
// any number of threads. WindowRef values index into the Dataset they came
// from and are valid as long as that Dataset is not modified.

#ifndef EDGEFLEET_ML_DATASET_H
#define EDGEFLEET_ML_DATASET_H

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgefleet::ml {

// The result of a fallible data operation: `value` is meaningful only when
// ok(). A stand-in until the project's common expected<T, Error> exists.
template <typename T>
struct [[nodiscard]] DataResult {
  T value{};
  std::string error;  // empty on success; otherwise one sentence

  bool ok() const noexcept { return error.empty(); }

  static DataResult Ok(T v) { return DataResult{std::move(v), {}}; }
  static DataResult Fail(std::string message) { return DataResult{T{}, std::move(message)}; }
};

// The result of a fallible operation that produces nothing.
struct [[nodiscard]] DataStatus {
  std::string error;  // empty on success; otherwise one sentence

  bool ok() const noexcept { return error.empty(); }
};

// The sensor's step: one count is 1/2048 g (about 0.000488 g). The shipped
// data stays within +-2217 counts, far inside int16.
inline constexpr float kCountsPerG = 2048.0f;
inline constexpr std::size_t kAxes = 3;  // x, y, z
inline constexpr std::uint32_t kSampleRateHz = 200;
inline constexpr std::uint32_t kWindowRows = 100;          // SPEC section 2: 100 samples x 3 axes
inline constexpr std::uint32_t kDefaultCaptureRows = 200;  // one original 1-second capture

// Bounds applied to everything read from disk.
inline constexpr std::size_t kMaxNameLength = 64;
inline constexpr std::uint32_t kMaxRows = 10'000'000;  // per recording
inline constexpr std::uint32_t kMaxRecordings = 1024;

// One recording file: consecutive captures of one condition.
struct Recording {
  std::string name;                           // file stem, e.g. "normal_low"
  std::vector<std::int16_t> counts;           // interleaved x,y,z per row; g = count / 2048
  std::vector<std::uint32_t> capture_starts;  // first row of each capture; [0] == 0, increasing
  bool anomaly = false;                       // name starts with "anomaly_"

  std::size_t rows() const noexcept { return counts.size() / kAxes; }
  std::size_t captures() const noexcept { return capture_starts.size(); }
  // One past the last row of capture `capture` (< captures()).
  std::uint32_t CaptureEnd(std::size_t capture) const noexcept;

  bool operator==(const Recording&) const = default;
};

// All recordings of one source, sorted by name, names unique.
struct Dataset {
  std::vector<Recording> recordings;

  // The recording called `name`, or nullptr.
  const Recording* Find(std::string_view name) const noexcept;

  bool operator==(const Dataset&) const = default;
};

// Checks the invariants every loader guarantees and WritePacked requires:
// 1..kMaxRecordings recordings sorted by unique name; each name 1..64 of
// [A-Za-z0-9_-] starting with "normal_" or "anomaly_" (and `anomaly` matching
// it); 1..kMaxRows rows; captures starting at row 0, strictly increasing.
DataStatus ValidateDataset(const Dataset& dataset);

// Reads every normal_*.csv and anomaly_*.csv in `dir` (sorted by name).
// Capture boundaries come from `dir`/segments.csv when it exists (it must then
// tile every loaded file exactly; entries for files not present are ignored),
// otherwise every kDefaultCaptureRows rows start a capture.
DataResult<Dataset> LoadCsvFolder(const std::filesystem::path& dir);

// The packed form, in memory. `zstd_level` trades packing time for size
// (19 for the shipped file; tests use lower levels to stay fast).
DataResult<std::vector<std::uint8_t>> EncodePacked(const Dataset& dataset, int zstd_level = 19);
DataResult<Dataset> DecodePacked(std::span<const std::uint8_t> bytes);

// The packed form, on disk. WritePacked replaces `path` atomically (temporary
// file, fsync, rename, fsync of the directory).
DataResult<Dataset> LoadPacked(const std::filesystem::path& path);
DataStatus WritePacked(const Dataset& dataset, const std::filesystem::path& path,
                       int zstd_level = 19);

// Replaces `path` with `bytes` atomically: a temporary file beside it,
// fsync, rename, fsync of the directory. A crash leaves the old file or the
// new one, never a mix. Used for every file the ml pipeline writes.
DataStatus WriteFileAtomically(const std::filesystem::path& path, std::span<const std::uint8_t> bytes);

// A directory is read as a CSV folder, anything else as a packed file.
DataResult<Dataset> LoadRecordings(const std::filesystem::path& path);

// Where the shipped recordings are, first match wins:
//   1. $EDGEFLEET_DATA when set and not empty (a packed file or a CSV folder;
//      returned as given, even if it does not exist, so the loader can say so);
//   2. <directory of the running executable>/../../data/ceiling-fan.efr
//      (build/bin/edgefleet and build/tests/* in a checkout);
//   3. data/ceiling-fan.efr under the current directory (the repository root).
// Fails, naming the places it looked, when none of 2 and 3 exists.
DataResult<std::filesystem::path> DefaultDataPath();

// A window of consecutive rows inside one capture.
struct WindowRef {
  std::uint32_t recording = 0;          // index into Dataset::recordings
  std::uint32_t capture = 0;            // index into Recording::capture_starts
  std::uint32_t window_in_capture = 0;  // 0, 1, ... within the capture
  std::uint32_t first_row = 0;          // capture start + window_in_capture * window_rows

  bool operator==(const WindowRef&) const = default;
};

// Every window of `window_rows` rows aligned to a multiple of `window_rows`
// from its capture's start, never crossing a capture; a capture's remainder
// rows (fewer than window_rows) are not used. Ordered by recording, capture,
// window. Empty when window_rows is 0.
std::vector<WindowRef> Windows(const Dataset& dataset, std::uint32_t window_rows = kWindowRows);

// Writes the window's rows interleaved x,y,z in g (count / 2048) into `out`,
// whose size must be kAxes * window_rows. Returns false, writing nothing, when
// `ref` does not name rows of `dataset` or `out` is not a whole number of rows.
[[nodiscard]] bool WindowValues(const Dataset& dataset, const WindowRef& ref, std::span<float> out);

enum class Split { kTrain, kValidation, kTest };
const char* ToString(Split split) noexcept;  // "train", "validation", "test"

// Which side a capture is on: a pure function of the recording's name, the
// capture index and the seed, so it is reproducible across runs and machines,
// every window of a capture shares it, and adding captures never moves
// existing ones. About `train` of the captures go to training, `validation` to
// validation and the rest to test (independently per capture, so per
// recording the shares are close to, not exactly, these). Requires
// 0 <= train, 0 <= validation, train + validation <= 1.
// The mapping is part of the stable interface: evaluation results cite it.
Split AssignSplit(std::string_view recording, std::uint32_t capture, std::uint64_t seed,
                  double train = 0.70, double validation = 0.15) noexcept;

}  // namespace edgefleet::ml

#endif  // EDGEFLEET_ML_DATASET_H
