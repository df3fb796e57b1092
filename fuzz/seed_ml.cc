// Writes seed inputs for the ml fuzz targets: a small valid cloud model (with
// the leading mode byte the target expects) and a small packed dataset.
//   fuzz_seed_ml CLOUD_CORPUS_DIR PACKED_CORPUS_DIR
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "ml/cloud_model.h"
#include "ml/dataset.h"
#include "ml/features.h"
#include "ml/network.h"

namespace {

void Write(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuzz_seed_ml CLOUD_DIR PACKED_DIR\n");
    return 2;
  }
  using namespace edgefleet::ml;
  CloudModel m;
  m.window_len = 20;
  m.axes = 2;
  m.neighbours = 2;
  m.threshold = 1.0f;
  m.spectrum = {1e-5f, SplitEdges(20, 4, 2)};
  m.selector.spectrum = {1e-5f, SplitEdges(20, 11, 5)};
  const std::size_t dims = m.axes * m.selector.spectrum.bin_count();
  m.selector.inv_scale.assign(dims, 1.0f);
  m.selector.centroids = {std::vector<float>(dims, -3.0f), std::vector<float>(dims, 0.0f)};
  const auto features = static_cast<int>(m.feature_count());
  for (int j = 0; j < 2; ++j) {
    CloudMode mode;
    mode.offset.assign(static_cast<std::size_t>(features), 0.1f);
    mode.inv_scale.assign(static_cast<std::size_t>(features), 2.0f);
    mode.autoencoder = MakeAutoencoder({features, 3, features}, 7 + static_cast<std::uint64_t>(j));
    mode.bank = Eigen::MatrixXf::Ones(features, 3);
    mode.PrepareBank();
    m.modes.push_back(std::move(mode));
  }
  std::vector<std::uint8_t> cloud = EncodeCloudModel(m);
  cloud.insert(cloud.begin(), 0);  // even: keep the CRC as written
  Write(std::filesystem::path(argv[1]) / "seed-cloud", cloud);

  Dataset d;
  Recording r;
  r.name = "normal_seed";
  r.counts.assign(400 * 3, 5);
  r.capture_starts = {0, 200};
  d.recordings.push_back(r);
  auto packed = EncodePacked(d, 3);
  if (!packed.ok()) return 1;
  Write(std::filesystem::path(argv[2]) / "seed-packed", packed.value);
  return 0;
}
