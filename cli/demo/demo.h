// `edgefleet demo [--devices N] [--quick] [--keep] [--dir DIR]`: the hybrid
// loop end to end on one machine (SPEC sections 1 and 9, issue 7).
//
// Starts its own Mosquitto (generated config, per-device credentials and
// ACLs, 127.0.0.1, a free port) and `edgefleet server` (SQLite under
// DIR/server, port 8000 when free, else a free one); trains the edge and
// cloud models from the shipped recordings when DIR/models has none; signs
// and publishes the edge model; registers N devices and runs N real
// `edgefleet-agent` processes, each replaying its own mix of recorded
// conditions faster than real time; stops the server in the middle (the
// agents fall back, back off and buffer), starts it again and waits for
// every buffered row; publishes a second model version and waits for every
// agent to report it through the OTA path; stops the agents cleanly and
// prints the summary (cli/demo/report.h). Every process it starts is
// supervised (cli/demo/supervisor.h) and stopped on every exit path,
// Ctrl-C included; --keep leaves the server and the broker running.
//
// Exit status: 0 only when every step did what it should (rows synced equal
// rows produced, every agent on the second model, every process exited
// cleanly); 1 otherwise or when interrupted; 2 bad usage.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/fleet_cmds.h"

namespace edgefleet::cli {

void AddDemoCommand(CLI::App& app, Action& action);

}  // namespace edgefleet::cli
