// The real `edgefleet server` for OTA tests: a data dir with a server key
// (`edgefleet keys generate`), devices (`edgefleet device add`), models
// (`edgefleet model publish`), and the server process on 127.0.0.1, started
// on port 0 and restartable on the same port (the manifest's URL names it).
// Stopped by process id. Test support only; one thread.
#pragma once

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/agent/process.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::agent::testing {

class RealOtaServer {
 public:
  RealOtaServer(const char* cli, std::filesystem::path dir) : cli_(cli), dir_(std::move(dir)) {
    std::filesystem::create_directories(data_dir());
    Capture(cli_ + " keys generate --data-dir " + data_dir().string() + " >/dev/null" + Quiet());
  }
  ~RealOtaServer() { Stop(SIGKILL); }

  std::filesystem::path data_dir() const { return dir_ / "data"; }
  std::filesystem::path public_key() const { return data_dir() / "keys" / "server.pub"; }
  std::string cli_log() const { return ReadText(dir_ / "cli.log"); }
  std::string log() const { return ReadText(dir_ / "server.log"); }

  // The device's token ("" on failure).
  std::string AddDevice(const std::string& id) {
    std::string token = Capture(cli_ + " device add " + id + " --data-dir " + data_dir().string() + Quiet());
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    return token;
  }
  void Publish(const std::string& bytes, std::int64_t version) {
    const auto file = dir_ / ("publish-v" + std::to_string(version) + ".efm");
    std::ofstream(file, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    Capture(cli_ + " model publish " + file.string() + " --data-dir " + data_dir().string() + " >/dev/null" + Quiet());
  }

  // Starts the server (port 0 the first time, the same port after). True
  // once it listens.
  bool Start() {
    const auto port_file = dir_ / "port";
    std::filesystem::remove(port_file);
    pid_ = Spawn(cli_.c_str(),
                 {"server", "--data-dir", data_dir().string(), "--port", std::to_string(port_), "--bind", "127.0.0.1",
                  "--port-file", port_file.string()},
                 dir_ / "server.log", false)
               .pid;
    if (pid_ <= 0) return false;
    if (!testsupport::WaitUntil([&] { return !ReadText(port_file).empty(); }, std::chrono::seconds(30))) return false;
    port_ = std::stoi(ReadText(port_file));
    return true;
  }
  // Stops it with `signal`; its exit status (-1 if killed by a signal).
  int Stop(int signal = SIGTERM) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, signal);
    const int status = Wait(pid_, std::chrono::seconds(30));
    pid_ = -1;
    return status;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  std::string Quiet() const { return " 2>>" + (dir_ / "cli.log").string(); }

  std::string cli_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace edgefleet::agent::testing
