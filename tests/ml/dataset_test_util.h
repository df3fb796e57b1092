// Shared by the dataset tests: where the data is, and scratch folders.

#ifndef EDGEFLEET_TESTS_ML_DATASET_TEST_UTIL_H
#define EDGEFLEET_TESTS_ML_DATASET_TEST_UTIL_H

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ml/dataset.h"

namespace edgefleet::ml::testing {

inline std::filesystem::path SourceDir() { return EDGEFLEET_SOURCE_DIR; }

// The packed recordings shipped in the repository.
inline std::filesystem::path PackedPath() { return SourceDir() / "data" / "ceiling-fan.efr"; }

// The original CSV recordings, when ../shared sits beside the checkout (on
// developers' machines and in CI; not on a user's).
inline std::optional<std::filesystem::path> CsvFolder() {
  const std::filesystem::path dir = SourceDir() / ".." / "shared" / "data" / "ceiling-fan";
  std::error_code ec;
  if (std::filesystem::exists(dir / "normal_off.csv", ec)) return dir.lexically_normal();
  return std::nullopt;
}

// The shipped packed dataset, loaded once per test binary.
inline const DataResult<Dataset>& ShippedDataset() {
  static const DataResult<Dataset> loaded = LoadPacked(PackedPath());
  return loaded;
}

inline std::vector<std::uint8_t> ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline void WriteText(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// A fresh folder under the test temp dir, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = ::testing::TempDir() + "edgefleet-dataset-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace edgefleet::ml::testing

#endif  // EDGEFLEET_TESTS_ML_DATASET_TEST_UTIL_H
