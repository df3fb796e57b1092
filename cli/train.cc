#include "cli/train.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "cli/common.h"
#include "ml/dataset.h"
#include "ml/training.h"

namespace edgefleet::cli {

int Train(const TrainArgs& args) {
  auto dataset = LoadData(args.data);
  if (!dataset.ok()) return Fail(dataset.error);
  std::error_code ec;
  std::filesystem::create_directories(args.out, ec);
  if (ec) return Fail("cannot create " + args.out + ": " + ec.message() + ".");

  ml::PipelineConfig config;
  config.seed = args.seed;
  config.modes = args.modes;
  config.model_version = args.model_version;
  if (args.zone.size() == 2) {
    if (!(args.zone[0] <= args.zone[1])) return Fail("--zone K_LOW K_HIGH needs K_LOW <= K_HIGH.");
    config.fixed_zone = true;
    config.zone_k_low = args.zone[0];
    config.zone_k_high = args.zone[1];
  }
  config.edge_train.seed = args.seed;
  config.cloud_train.seed = args.seed + 1;
  const auto progress = [&args](const ml::Progress& p) {
    if (args.quiet) return;
    if (p.epoch.epoch != 1 && p.epoch.epoch % 10 != 0) return;
    std::fprintf(stderr, "%-12s epoch %3d  train %.5f  validation %.5f%s\n", p.stage.c_str(), p.epoch.epoch,
                 static_cast<double>(p.epoch.train_loss), static_cast<double>(p.epoch.validation_loss),
                 p.epoch.improved ? "  *" : "");
  };
  auto trained = ml::TrainModels(dataset.value, config, progress);
  if (!trained.ok()) return Fail(trained.error);

  const std::filesystem::path dir = args.out;
  if (auto s = ml::WriteFileAtomically(dir / ml::kEdgeArtifactFile, trained.value.artifact); !s.ok()) return Fail(s.error);
  if (auto s = ml::SaveCloudModel(trained.value.cloud, dir / ml::kCloudModelFile); !s.ok()) return Fail(s.error);
  if (auto s = ml::SaveCloudModel(trained.value.edge_float, dir / ml::kEdgeFloatFile); !s.ok()) return Fail(s.error);
  const std::string& report = trained.value.report;
  if (auto s = ml::WriteFileAtomically(dir / ml::kTrainingReportFile,
                                       std::span(reinterpret_cast<const std::uint8_t*>(report.data()), report.size()));
      !s.ok()) {
    return Fail(s.error);
  }
  std::printf("wrote %s (%zu bytes), %s, %s and %s to %s\n", ml::kEdgeArtifactFile, trained.value.artifact.size(),
              ml::kCloudModelFile, ml::kEdgeFloatFile, ml::kTrainingReportFile, args.out.c_str());
  return 0;
}

}  // namespace edgefleet::cli
