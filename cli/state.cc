#include "cli/state.h"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/crypto.h"

namespace edgefleet::cli {

using common::Error;
using common::ErrorCode;
using common::Expected;

void AddStateOptions(CLI::App* command, StateArgs& args) {
  command->add_option("--data-dir", args.data_dir, "the server's data folder (keys, models, database)");
  command->add_option("--db", args.db, "database URL: sqlite:PATH or postgresql://... (default: sqlite:DIR/edgefleet.db)");
  command->add_option("--config", args.config, "the server's TOML config file (for its data_dir and db)");
}

Expected<server::api::ServerConfig> ResolveState(const StateArgs& args) {
  server::api::ServerConfig config;
  if (!args.config.empty()) EDGEFLEET_RETURN_IF_ERROR(server::api::LoadConfigFile(args.config, config));
  if (!args.data_dir.empty()) config.data_dir = args.data_dir;
  if (!args.db.empty()) config.db = args.db;
  EDGEFLEET_RETURN_IF_ERROR(config.Resolve());
  return config;
}

Expected<std::unique_ptr<store::Store>> OpenStateStore(const server::api::ServerConfig& config) {
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return Error(ErrorCode::kIo, "cannot create " + config.data_dir + ": " + ec.message());
  auto store = store::OpenStore(config.db);
  if (!store.ok()) return std::move(store).error().WithContext("opening the database");
  return std::move(store).value();
}

Expected<std::string> NewToken(const std::string& prefix) {
  std::array<std::uint8_t, 32> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(ErrorCode::kIo, std::string("getrandom: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  return prefix + common::HexEncode(bytes);
}

}  // namespace edgefleet::cli
