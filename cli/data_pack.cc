#include "cli/data_pack.h"

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "cli/common.h"
#include "ml/dataset.h"

namespace edgefleet::cli {

int PackData(const std::string& from, const std::string& out, int zstd_level) {
  auto dataset = ml::LoadCsvFolder(from);
  if (!dataset.ok()) return Fail(dataset.error);
  if (auto written = ml::WritePacked(dataset.value, out, zstd_level); !written.ok()) {
    return Fail(written.error);
  }
  auto reread = ml::LoadPacked(out);
  if (!reread.ok()) return Fail(reread.error);
  if (!(reread.value == dataset.value)) {
    return Fail(out + " does not unpack to the recordings it was packed from.");
  }
  std::size_t rows = 0;
  std::size_t captures = 0;
  for (const ml::Recording& rec : dataset.value.recordings) {
    rows += rec.rows();
    captures += rec.captures();
  }
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(out, ec);
  std::printf("packed %zu recordings, %zu rows, %zu captures into %s (%llu bytes)\n",
              dataset.value.recordings.size(), rows, captures, out.c_str(),
              static_cast<unsigned long long>(ec ? 0 : bytes));
  return 0;
}

}  // namespace edgefleet::cli
