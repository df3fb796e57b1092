#include "cli/common.h"

#include <cstdio>

namespace edgefleet::cli {

int Fail(const std::string& message) {
  std::fprintf(stderr, "edgefleet: %s\n", message.c_str());
  return 1;
}

ml::DataResult<ml::Dataset> LoadData(const std::string& data) {
  std::filesystem::path path = data;
  if (path.empty()) {
    auto found = ml::DefaultDataPath();
    if (!found.ok()) return ml::DataResult<ml::Dataset>::Fail(found.error);
    path = found.value;
  }
  return ml::LoadRecordings(path);
}

}  // namespace edgefleet::cli
