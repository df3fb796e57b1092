// `edgefleet data pack --from DIR --out FILE`: packs a folder of recordings in
// the CSV format of data/ceiling-fan/ into the compact lossless form the
// loaders read (data/README.md has the byte layout), and checks the result
// unpacks to the same counts before reporting success.
#pragma once

#include <string>

namespace edgefleet::cli {

int PackData(const std::string& from, const std::string& out, int zstd_level);

}  // namespace edgefleet::cli
