// `edgefleet server`: the cloud server (SPEC section 10).
//
//   edgefleet server --data-dir DIR [--port N] [--bind ADDR] [--db URL]
//                    [--config FILE] [--threads N] [--tls-cert F --tls-key F]
//                    [--public-url URL] [--port-file F]
//
// Defaults < config file < flags. Serves the API (server/api/) over the HTTP
// transport (server/http/) until SIGTERM or SIGINT, then stops gracefully:
// no new connections, requests in flight finish, the escalation writer
// drains into the store and the log, exit status 0.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/fleet_cmds.h"

namespace edgefleet::cli {

void AddServerCommand(CLI::App& app, Action& action);

}  // namespace edgefleet::cli
