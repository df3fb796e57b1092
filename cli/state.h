// What the subcommands that act on a server's state share (SPEC section 10:
// they take --data-dir DIR, the folder the server uses): the options
// --data-dir, --db and --config, resolved as the server resolves them, and
// the store they name.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "common/error.h"
#include "server/api/config.h"
#include "server/store/store.h"

namespace edgefleet::cli {

struct StateArgs {
  std::string data_dir;
  std::string db;
  std::string config;
};

// Adds --data-dir (required unless the config file names it), --db, --config.
void AddStateOptions(CLI::App* command, StateArgs& args);

// Defaults < config file < flags, then Resolve().
common::Expected<server::api::ServerConfig> ResolveState(const StateArgs& args);

// The store of a resolved config.
common::Expected<std::unique_ptr<store::Store>> OpenStateStore(const server::api::ServerConfig& config);

// A new secret token: `prefix` then 64 hex digits of 32 bytes from getrandom(2).
common::Expected<std::string> NewToken(const std::string& prefix);

}  // namespace edgefleet::cli
