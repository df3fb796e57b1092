// The edgefleet command. Subcommands grow with the project (SPEC section 10);
// each lives in its own file of cli/ and returns the exit status:
// 0 success, 2 bad usage, 1 failure with one sentence on stderr.
#include <CLI/CLI.hpp>
#include <string>

#include "cli/data_pack.h"
#include "cli/inspect.h"

int main(int argc, char** argv) {
  CLI::App app{"edgefleet: keeps a fleet of edge AI devices and a cloud in sync."};
  app.require_subcommand(1);

  CLI::App* model = app.add_subcommand("model", "Model artifacts.");
  model->require_subcommand(1);
  CLI::App* inspect = model->add_subcommand("inspect", "Validate an artifact and print what it holds.");
  std::string artifact;
  bool json = false;
  inspect->add_option("FILE", artifact, "model artifact (.efm)")->required();
  inspect->add_flag("--json", json, "one JSON object instead of text");

  CLI::App* data = app.add_subcommand("data", "Recordings.");
  data->require_subcommand(1);
  CLI::App* pack = data->add_subcommand("pack", "Pack a CSV folder of recordings into the compact lossless form.");
  std::string from;
  std::string out;
  int level = 19;
  pack->add_option("--from", from, "folder of normal_*.csv and anomaly_*.csv (header x,y,z)")->required();
  pack->add_option("--out", out, "packed file to write (replaced atomically)")->required();
  pack->add_option("--level", level, "zstd compression level")->check(CLI::Range(1, 22))->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (inspect->parsed()) return edgefleet::cli::InspectModel(artifact, json);
  if (pack->parsed()) return edgefleet::cli::PackData(from, out, level);
  return 2;
}
