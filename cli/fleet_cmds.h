// Subcommands that manage a server's identities and models on its data dir
// (SPEC section 10): `edgefleet keys generate`, `edgefleet device add ID`,
// `edgefleet admin token`, `edgefleet model publish|sign|verify`.
//
// Each Add* function declares its subcommands on `app` (or on the existing
// `model` command) and, when one is parsed, sets `action` to the function
// that runs it and returns the exit status (0, 1 with one sentence on
// stderr).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace edgefleet::cli {

using Action = std::function<int()>;

void AddKeysCommands(CLI::App& app, Action& action);
void AddDeviceCommands(CLI::App& app, Action& action);
void AddAdminCommands(CLI::App& app, Action& action);
void AddModelCommands(CLI::App& model, Action& action);

}  // namespace edgefleet::cli
