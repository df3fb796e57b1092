// The edgefleet command. Subcommands grow with the project (SPEC section 10);
// each lives in its own file of cli/ and returns the exit status:
// 0 success, 2 bad usage, 1 failure with one sentence on stderr.
#include <CLI/CLI.hpp>
#include <string>

#include "cli/broker.h"
#include "cli/data_pack.h"
#include "cli/demo/demo.h"
#include "cli/fleet_cmds.h"
#include "cli/inspect.h"
#include "cli/server_cmd.h"
#include "cli/train.h"

int main(int argc, char** argv) {
  CLI::App app{"edgefleet: keeps a fleet of edge AI devices and a cloud in sync."};
  app.require_subcommand(1);
  // Subcommands declared in their own files set this when parsed.
  edgefleet::cli::Action action;

  CLI::App* model = app.add_subcommand("model", "Model artifacts.");
  model->require_subcommand(1);
  CLI::App* inspect = model->add_subcommand("inspect", "Validate an artifact and print what it holds.");
  std::string artifact;
  bool json = false;
  inspect->add_option("FILE", artifact, "model artifact (.efm)")->required();
  inspect->add_flag("--json", json, "one JSON object instead of text");
  edgefleet::cli::AddModelCommands(*model, action);
  edgefleet::cli::AddServerCommand(app, action);
  edgefleet::cli::AddKeysCommands(app, action);
  edgefleet::cli::AddDeviceCommands(app, action);
  edgefleet::cli::AddAdminCommands(app, action);
  edgefleet::cli::AddDemoCommand(app, action);

  CLI::App* data = app.add_subcommand("data", "Recordings.");
  data->require_subcommand(1);
  CLI::App* pack = data->add_subcommand("pack", "Pack a CSV folder of recordings into the compact lossless form.");
  std::string from;
  std::string out;
  int level = 19;
  pack->add_option("--from", from, "folder of normal_*.csv and anomaly_*.csv (header x,y,z)")->required();
  pack->add_option("--out", out, "packed file to write (replaced atomically)")->required();
  pack->add_option("--level", level, "zstd compression level")->check(CLI::Range(1, 22))->capture_default_str();

  edgefleet::cli::TrainArgs train_args;
  CLI::App* train = app.add_subcommand("train", "Train the edge artifact and the cloud model on recordings.");
  train->add_option("--data", train_args.data,
                    "recordings: a folder of normal_*.csv and anomaly_*.csv, or a packed file (default: the shipped recordings)");
  train->add_option("--out", train_args.out, "folder to write edge.efm, cloud.efcm and the training report to")->required();
  train->add_option("--seed", train_args.seed, "seed of the split and of training")->capture_default_str();
  train->add_option("--modes", train_args.modes, "operating modes to recognise")->check(CLI::Range(1, 8))->capture_default_str();
  train->add_option("--model-version", train_args.model_version, "version number written into the models")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  train->add_option("--zone", train_args.zone,
                    "K_LOW K_HIGH: thresholds mu + k * sigma of the training scores instead of the sweep's choice")
      ->expected(2);
  train->add_flag("--quiet", train_args.quiet, "no per-epoch progress");

  edgefleet::cli::EvalArgs eval_args;
  CLI::App* eval = app.add_subcommand("eval", "Edge-only, hybrid and cloud-only results on the held-out test captures.");
  eval->add_option("--data", eval_args.data, "recordings, as for train (default: the shipped recordings)");
  eval->add_option("--models", eval_args.models, "folder written by edgefleet train")->required();
  eval->add_option("--seed", eval_args.seed, "the split's seed (the one used to train)")->capture_default_str();
  eval->add_flag("--json", eval_args.json, "one JSON object");
  eval->add_option("--scores", eval_args.scores, "write one CSV row per evaluated window");
  eval->add_option("--sweep-csv", eval_args.sweep_csv, "write the k_low/k_high zone sweep as CSV");
  eval->add_option("--sweep-svg", eval_args.sweep_svg, "write the zone sweep plot (SVG)");

  edgefleet::cli::BrokerConfigArgs broker_args;
  CLI::App* broker = app.add_subcommand("broker", "The MQTT broker (Mosquitto).");
  broker->require_subcommand(1);
  CLI::App* broker_config = broker->add_subcommand(
      "config", "Write a Mosquitto 2.0 config, ACL and password file (per-device credentials) under DIR/mosquitto/.");
  broker_config->add_option("--data-dir", broker_args.data_dir, "the server's data folder")->required();
  broker_config->add_option("--port", broker_args.port, "listener port")->check(CLI::Range(1, 65535))->capture_default_str();
  broker_config->add_option("--bind", broker_args.bind, "listener address")->capture_default_str();
  broker_config->add_flag("--persistence", broker_args.persistence,
                          "keep retained messages across broker restarts (stored under DIR/mosquitto/)");
  broker_config->add_option("--user", broker_args.user,
                            "account Mosquitto switches to when started as root (its default: mosquitto)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (action) return action();
  if (inspect->parsed()) return edgefleet::cli::InspectModel(artifact, json);
  if (pack->parsed()) return edgefleet::cli::PackData(from, out, level);
  if (train->parsed()) return edgefleet::cli::Train(train_args);
  if (eval->parsed()) return edgefleet::cli::Eval(eval_args);
  if (broker_config->parsed()) return edgefleet::cli::BrokerConfig(broker_args);
  return 2;
}
