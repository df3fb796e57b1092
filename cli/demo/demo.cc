#include "cli/demo/demo.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "cli/common.h"
#include "cli/demo/fleet_data.h"
#include "cli/demo/plan.h"
#include "cli/demo/report.h"
#include "cli/demo/stats.h"
#include "cli/demo/supervisor.h"
#include "server/broker/broker.h"

namespace edgefleet::cli {
namespace demo {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct Args {
  int devices = 8;
  bool quick = false;
  bool keep = false;
  std::string dir = "demo-data";
  int port = -1;  // -1: 8000 when free, else a free port
  std::string mosquitto = "/usr/sbin/mosquitto";
};

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// A loopback port free a moment ago (`want` if it is free, when > 0).
int FreePort(int want) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(want > 0 ? want : 0));
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    socklen_t len = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

bool Accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::size_t Collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// POST `body` to `url` with a bearer token; the status, 0 on a transport error.
long Post(const std::string& url, const std::string& token, const std::string& body, std::string* answer) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return 0;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, answer);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return status;
}

class Demo {
 public:
  explicit Demo(const Args& args) : args_(args), plan_(args.quick ? QuickPlan() : FullPlan()) {}

  int Run();

 private:
  double Elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  bool Check(bool ok, const std::string& what);
  bool Fatal(const std::string& what) {
    Check(false, what);
    return false;
  }
  // Waits `d` printing the live table every plan period; false if interrupted.
  bool Watch(Clock::duration d, const std::string& phase);
  bool Cli(const std::string& name, const std::vector<std::string>& args, std::string* out = nullptr,
           seconds timeout = seconds(60));
  bool TrainModels();
  bool Train(int version, bool foreground);
  bool SetUpServerState();
  bool StartBroker();
  bool StartServer(bool first);
  bool StartAgents();
  bool Outage();
  bool Ota();
  bool StopAgents();
  void Finish();
  pid_t Track(const std::string& name, const std::vector<std::string>& argv, const fs::path& log, bool keepable);

  Args args_;
  Plan plan_;
  Supervisor sup_;
  Clock::time_point start_ = Clock::now();
  fs::path root_, server_dir_, models_, logs_;
  std::string self_, agent_bin_;
  int broker_port_ = -1;
  int server_port_ = -1;
  pid_t broker_pid_ = -1;
  pid_t server_pid_ = -1;
  pid_t train2_pid_ = -1;
  std::string admin_token_;
  ml::Dataset data_;
  std::vector<DeviceRun> devices_;
  std::vector<std::string> failures_;
};

bool Demo::Check(bool ok, const std::string& what) {
  std::printf("  %s %s\n", ok ? "ok:    " : "FAILED:", what.c_str());
  std::fflush(stdout);
  if (!ok) failures_.push_back(what);
  return ok;
}

pid_t Demo::Track(const std::string& name, const std::vector<std::string>& argv, const fs::path& log,
                  bool keepable) {
  const pid_t pid = sup_.Start(name, argv, log, !(keepable && args_.keep));
  std::printf("  started %s (pid %d, log %s)\n", name.c_str(), static_cast<int>(pid), log.c_str());
  std::fflush(stdout);
  return pid;
}

bool Demo::Watch(Clock::duration d, const std::string& phase) {
  const auto end = Clock::now() + d;
  auto next_table = Clock::now() + plan_.table_every;
  while (Clock::now() < end) {
    if (Interrupted()) return false;
    std::this_thread::sleep_for(milliseconds(100));
    if (Clock::now() >= next_table) {
      PrintLiveTable(devices_, server_dir_ / "edgefleet.db", phase, Elapsed());
      next_table += plan_.table_every;
    }
  }
  PrintLiveTable(devices_, server_dir_ / "edgefleet.db", phase, Elapsed());
  return !Interrupted();
}

bool Demo::Cli(const std::string& name, const std::vector<std::string>& args, std::string* out, seconds timeout) {
  std::vector<std::string> argv{self_};
  argv.insert(argv.end(), args.begin(), args.end());
  const int status = sup_.Run(name, argv, logs_ / (name + ".log"), timeout, out);
  if (status != 0) {
    return Fatal("edgefleet " + args.front() + " (" + name + ") exited " + std::to_string(status) + "; see " +
                 (logs_ / (name + ".log")).string());
  }
  return true;
}

bool Demo::Train(int version, bool foreground) {
  const fs::path out = models_ / ("v" + std::to_string(version));
  const fs::path log = logs_ / ("train-v" + std::to_string(version) + ".log");
  std::error_code ec;
  fs::remove(log, ec);
  const pid_t pid = Track("train-v" + std::to_string(version),
                          {self_, "train", "--out", out.string(), "--seed", std::to_string(version),
                           "--model-version", std::to_string(version), "--zone", "0.5", "2.5"},
                          log, false);
  if (!foreground) {
    train2_pid_ = pid;
    return pid > 0;
  }
  // Show progress: the first epoch and every 150th of each stage.
  std::size_t shown = 0;
  while (sup_.Running(pid)) {
    if (Interrupted()) return false;
    std::this_thread::sleep_for(milliseconds(250));
    const std::string text = ReadText(log);
    std::size_t pos = shown;
    for (std::size_t nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      const std::string line = text.substr(pos, nl - pos);
      const auto e = line.find("epoch");
      if (e != std::string::npos) {
        const int epoch = std::atoi(line.c_str() + e + 5);
        if (epoch == 1 || epoch % 150 == 0) std::printf("    %s\n", line.c_str());
      }
    }
    shown = pos;
    std::fflush(stdout);
  }
  const auto status = sup_.Wait(pid, milliseconds(0));
  return Check(status && *status == 0 && fs::exists(out / "edge.efm"),
               "trained model v" + std::to_string(version) + " (" + out.string() + ")");
}

bool Demo::TrainModels() {
  std::printf("\n== 1. models (edge artifact + cloud model) from the shipped recordings\n");
  for (int v = 1; v <= 2; ++v) {
    const fs::path dir = models_ / ("v" + std::to_string(v));
    if (fs::exists(dir / "edge.efm") && fs::exists(dir / "cloud.efcm")) {
      std::printf("  model v%d already trained (%s)\n", v, dir.c_str());
      continue;
    }
    if (v == 1 && !Train(1, true)) return false;
    // v2 (another seed) trains in the background while the fleet runs.
    if (v == 2 && !Train(2, false)) return Fatal("could not start training v2");
  }
  return true;
}

bool Demo::SetUpServerState() {
  std::printf("\n== 2. server state: signing key, admin token, %d devices, model v1 signed and published\n",
              args_.devices);
  fs::create_directories(server_dir_);
  const std::string dd = server_dir_.string();
  if (!Cli("keys", {"keys", "generate", "--data-dir", dd})) return false;
  std::string out;
  if (!Cli("admin-token", {"admin", "token", "--data-dir", dd}, &out)) return false;
  admin_token_ = Trim(out);
  fs::copy_file(models_ / "v1" / "cloud.efcm", server_dir_ / "cloud.efcm", fs::copy_options::overwrite_existing);
  if (!Cli("publish-v1", {"model", "publish", (models_ / "v1" / "edge.efm").string(), "--data-dir", dd})) return false;
  for (int i = 0; i < args_.devices; ++i) {
    DeviceRun d;
    char id[32];
    std::snprintf(id, sizeof id, "fan-%02d", i + 1);
    d.replay.id = id;
    d.dir = root_ / "devices" / id;
    fs::create_directories(d.dir);
    d.buffer = d.dir / "buffer.db";
    d.log = logs_ / (std::string(id) + ".log");
    if (!Cli(std::string("device-add-") + id, {"device", "add", id, "--data-dir", dd}, &out)) return false;
    d.token = Trim(out);  // `device add` also wrote the device's broker password
    const std::string err = WriteReplay(data_, static_cast<std::size_t>(i), plan_.windows, d.dir / "replay.csv", &d.replay);
    if (!err.empty()) return Fatal(err);
    fs::copy_file(models_ / "v1" / "edge.efm", d.dir / "model.efm", fs::copy_options::overwrite_existing);
    std::printf("  %s replays %s (%zu windows)\n", id, d.replay.mix.c_str(), d.replay.windows.size());
    devices_.push_back(std::move(d));
  }
  return Check(true, "keys, admin token, model v1 published, " + std::to_string(args_.devices) +
                         " devices registered with broker credentials");
}

bool Demo::StartBroker() {
  broker_port_ = FreePort(0);
  broker::BrokerConfigOptions o;
  o.port = broker_port_;
  o.bind_address = "127.0.0.1";
  if (::geteuid() == 0) o.run_as_user = "root";
  auto files = broker::WriteBrokerConfig(server_dir_, o);
  if (!files.ok()) return Fatal("broker config: " + files.error().message());
  broker_pid_ = Track("mosquitto", {args_.mosquitto, "-c", files->config.string()}, logs_ / "mosquitto.log", true);
  const auto end = Clock::now() + seconds(10);
  while (!Accepts(broker_port_) && Clock::now() < end && sup_.Running(broker_pid_)) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  return Check(Accepts(broker_port_), "Mosquitto on 127.0.0.1:" + std::to_string(broker_port_) +
                                          " (per-device passwords and ACLs)");
}

bool Demo::StartServer(bool first) {
  if (first) server_port_ = args_.port >= 0 ? args_.port : (FreePort(8000) == 8000 ? 8000 : FreePort(0));
  const fs::path port_file = root_ / "server.port";
  std::error_code ec;
  fs::remove(port_file, ec);
  server_pid_ = Track("server", {self_, "server", "--data-dir", server_dir_.string(), "--bind", "127.0.0.1", "--port",
                                 std::to_string(server_port_), "--port-file", port_file.string()},
                      logs_ / "server.log", true);
  const auto end = Clock::now() + seconds(30);
  while (Trim(ReadText(port_file)).empty() && Clock::now() < end && sup_.Running(server_pid_) && !Interrupted()) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  const std::string bound = Trim(ReadText(port_file));
  if (!bound.empty()) server_port_ = std::atoi(bound.c_str());  // --port 0: the one it took, kept for the restart
  return Check(!bound.empty(), std::string(first ? "server" : "server again") + " on http://127.0.0.1:" +
                                   std::to_string(server_port_));
}

bool Demo::StartAgents() {
  std::printf("\n== 4. %d edgefleet-agent processes (replay at %d Hz, %.0fx real pace)\n", args_.devices,
              plan_.rate_hz, plan_.rate_hz / 200.0);
  const std::string pub = (server_dir_ / "keys" / "server.pub").string();
  for (DeviceRun& d : devices_) {
    std::vector<std::string> argv{agent_bin_,
                                  "--device-id", d.replay.id,
                                  "--token", d.token,
                                  "--server", "http://127.0.0.1:" + std::to_string(server_port_),
                                  "--broker", "127.0.0.1:" + std::to_string(broker_port_),
                                  "--source", "csv:" + d.replay.csv.string() + "@" + std::to_string(plan_.rate_hz),
                                  "--buffer", d.buffer.string(),
                                  "--model", (d.dir / "model.efm").string(),
                                  "--trusted-key", pub,
                                  "--firmware-version", "1.0.0",
                                  "--strategy", "periodic",
                                  "--periodic-interval-ms", "2000",
                                  "--sync-retry-ms", "2000",
                                  "--escalation-timeout-ms", "1000",
                                  "--backoff-initial-ms", "2000",
                                  "--backoff-max-ms", "8000",
                                  "--status-interval-ms", "2000",
                                  "--health-interval-ms", "10000",
                                  "--power", "none",
                                  "--shutdown-sync-timeout-ms", "20000",
                                  // OTA (docs/agent.md): checks every 2 s, small chunks, a short health check.
                                  "--ota-dir", (d.dir / "ota").string(),
                                  "--ota-check-interval-ms", "2000",
                                  "--ota-chunk-bytes", "4096",
                                  "--ota-retry-initial-ms", "1000",
                                  "--ota-report-retry-ms", "2000",
                                  "--ota-health-period-ms", args_.quick ? "3000" : "6000",
                                  "--ota-health-grace-ms", "10000",
                                  // N agents share this machine's cores: latency is noisy here.
                                  "--ota-health-max-latency-ratio", "3"};
    d.pid = Track(d.replay.id, argv, d.log, false);
  }
  std::this_thread::sleep_for(milliseconds(500));
  bool all = true;
  for (const DeviceRun& d : devices_) all = all && sup_.Running(d.pid);
  return Check(all, "every agent running");
}

bool Demo::Outage() {
  std::printf("\n== 6. the cloud goes away: server stopped for %lld s (fallbacks, backoff, buffering)\n",
              static_cast<long long>(plan_.outage.count()));
  const int status = sup_.Stop(server_pid_, seconds(20));
  Check(status == 0, "server stopped (exit " + std::to_string(status) + ")");
  if (!Watch(plan_.outage, "server DOWN: agents fall back and buffer")) return false;
  std::vector<std::int64_t> before;
  std::int64_t fallbacks = 0, pending = 0;
  for (const DeviceRun& d : devices_) {
    const AgentCounts a = ReadAgent(d.buffer);
    fallbacks += a.fallbacks;
    pending += a.pending;
    before.push_back(a.rows);
  }
  Check(fallbacks > 0 && pending > 0, "during the outage: " + std::to_string(fallbacks) + " fallbacks so far, " +
                                          std::to_string(pending) + " rows buffered");
  std::printf("\n== 7. the server comes back: every buffered row arrives\n");
  if (!StartServer(false)) return false;
  const auto end = Clock::now() + plan_.drain_limit;
  auto next_table = Clock::now() + plan_.table_every;
  while (true) {
    if (Interrupted()) return false;
    bool done = true;
    for (std::size_t i = 0; i < devices_.size(); ++i) {
      const ServerCounts s = ReadServer(server_dir_ / "edgefleet.db", devices_[i].replay.id);
      done = done && s.ok && s.rows >= before[i];
    }
    if (done) break;
    if (Clock::now() >= end) break;
    if (Clock::now() >= next_table) {
      PrintLiveTable(devices_, server_dir_ / "edgefleet.db", "server back: draining buffers", Elapsed());
      next_table += plan_.table_every;
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
  PrintLiveTable(devices_, server_dir_ / "edgefleet.db", "server back: draining buffers", Elapsed());
  bool all = true;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < devices_.size(); ++i) {
    const ServerCounts s = ReadServer(server_dir_ / "edgefleet.db", devices_[i].replay.id);
    all = all && s.rows >= before[i];
    total += before[i];
  }
  return Check(all, "every row produced before the restart (" + std::to_string(total) + ") is on the server");
}

bool Demo::Ota() {
  std::printf("\n== 8. model v2 (trained with another seed) published: every agent updates over the air\n");
  if (train2_pid_ > 0) {
    std::printf("  waiting for the v2 training (pid %d) to finish\n", static_cast<int>(train2_pid_));
    std::fflush(stdout);
    while (sup_.Running(train2_pid_)) {
      if (Interrupted()) return false;
      std::this_thread::sleep_for(milliseconds(200));
    }
    const auto st = sup_.Wait(train2_pid_, milliseconds(0));
    if (!Check(st && *st == 0, "trained model v2")) return false;
  }
  const std::string bytes = ReadText(models_ / "v2" / "edge.efm");
  std::string answer;
  const long status = Post("http://127.0.0.1:" + std::to_string(server_port_) + "/api/models", admin_token_, bytes,
                           &answer);
  if (!Check(status == 200 || status == 201, "POST /api/models (v2): HTTP " + std::to_string(status) + " " +
                                                 Trim(answer).substr(0, 160))) {
    return false;
  }
  const auto end = Clock::now() + plan_.ota_limit;
  auto next_table = Clock::now() + plan_.table_every;
  std::vector<std::size_t> shown(devices_.size(), 0);
  while (true) {
    if (Interrupted()) return false;
    bool done = true;
    for (std::size_t i = 0; i < devices_.size(); ++i) {
      const ServerCounts s = ReadServer(server_dir_ / "edgefleet.db", devices_[i].replay.id);
      for (; shown[i] < s.ota.size(); ++shown[i]) {
        std::printf("    %s OTA: %s (v%lld)\n", devices_[i].replay.id.c_str(), s.ota[shown[i]].first.c_str(),
                    static_cast<long long>(s.ota[shown[i]].second));
      }
      const AgentCounts a = ReadAgent(devices_[i].buffer);
      done = done && s.reported_model == 2 && a.model_version == 2;
    }
    std::fflush(stdout);
    if (done || Clock::now() >= end) break;
    if (Clock::now() >= next_table) {
      PrintLiveTable(devices_, server_dir_ / "edgefleet.db", "OTA to v2 in progress", Elapsed());
      next_table += plan_.table_every;
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
  std::size_t on_v2 = 0;
  for (const DeviceRun& d : devices_) {
    const ServerCounts s = ReadServer(server_dir_ / "edgefleet.db", d.replay.id);
    const AgentCounts a = ReadAgent(d.buffer);
    if (s.reported_model == 2 && a.model_version == 2) ++on_v2;
  }
  return Check(on_v2 == devices_.size(), std::to_string(on_v2) + " of " + std::to_string(devices_.size()) +
                                             " agents run model v2 and reported it");
}

bool Demo::StopAgents() {
  std::printf("\n== 9. agents stopped cleanly (SIGTERM: final sync, status offline)\n");
  for (const DeviceRun& d : devices_) sup_.Signal(d.pid, SIGTERM);
  bool all = true;
  for (DeviceRun& d : devices_) {
    const auto st = sup_.Wait(d.pid, seconds(40));
    d.exit_status = st ? *st : sup_.Stop(d.pid, seconds(1));
    all = all && d.exit_status == 0;
  }
  return Check(all, "every agent exited 0");
}

void Demo::Finish() {
  if (args_.keep) {
    if (server_pid_ > 0 && sup_.Running(server_pid_)) sup_.Release(server_pid_);
    if (broker_pid_ > 0 && sup_.Running(broker_pid_)) sup_.Release(broker_pid_);
    std::printf("\n--keep: server (pid %d, http://127.0.0.1:%d) and Mosquitto (pid %d, port %d) left running; "
                "admin token in %s\n",
                static_cast<int>(server_pid_), server_port_, static_cast<int>(broker_pid_), broker_port_,
                (root_ / "admin.token").c_str());
    std::ofstream(root_ / "admin.token") << admin_token_ << "\n";
  }
  sup_.StopAll();
}

int Demo::Run() {
  InstallSignalHandlers();
  root_ = fs::absolute(args_.dir);
  server_dir_ = root_ / "server";
  models_ = root_ / "models";
  logs_ = root_ / "logs";
  std::error_code ec;
  fs::remove_all(server_dir_, ec);
  fs::remove_all(root_ / "devices", ec);
  fs::remove_all(logs_, ec);
  fs::create_directories(logs_);
  self_ = fs::read_symlink("/proc/self/exe", ec).string();
  agent_bin_ = (fs::path(self_).parent_path() / "edgefleet-agent").string();
  if (!fs::exists(agent_bin_)) return Fail(agent_bin_ + " is missing; build the edgefleet-agent target.");
  if (!fs::exists(args_.mosquitto)) return Fail(args_.mosquitto + " is missing; install mosquitto.");
  std::printf("edgefleet demo: %d devices, %s phases, state under %s\n", args_.devices, args_.quick ? "quick" : "full",
              root_.c_str());
  auto data = LoadData("");
  if (!data.ok()) return Fail(data.error);
  data_ = std::move(data.value);

  bool ok = TrainModels() && SetUpServerState();
  if (ok) {
    std::printf("\n== 3. broker and server\n");
    ok = StartBroker() && StartServer(true);
  }
  ok = ok && StartAgents();
  if (ok) {
    std::printf("\n== 5. the fleet at work: local decisions, escalations, MQTT telemetry, sync\n");
    ok = Watch(plan_.online, "online");
  }
  ok = ok && Outage() && Ota();
  if (ok) ok = Watch(plan_.after_ota, "on model v2");
  const bool agents_started = !devices_.empty() && devices_.front().pid > 0;
  if (!Interrupted() && agents_started) StopAgents();
  if (!Interrupted() && agents_started) {
    SummaryInputs in;
    in.data = &data_;
    in.devices = &devices_;
    in.server_db = server_dir_ / "edgefleet.db";
    in.cloud_model = models_ / "v1" / "cloud.efcm";
    in.edge_models = {models_ / "v1" / "edge.efm", models_ / "v2" / "edge.efm"};
    in.final_version = 2;
    const SummaryResult r = PrintSummary(in);
    std::printf("\n");
    Check(r.rows_equal, "rows synced (" + std::to_string(r.rows_synced) + ") equal rows produced (" +
                            std::to_string(r.rows_produced) + ")");
    Check(r.all_on_final, "every agent ends on model v2");
  }
  if (!args_.keep && server_pid_ > 0 && sup_.Running(server_pid_)) {
    const int st = sup_.Stop(server_pid_, seconds(20));
    Check(st == 0, "server stopped (exit " + std::to_string(st) + ")");
  }
  Finish();
  const double took = Elapsed();
  if (Interrupted()) {
    std::printf("\ndemo: interrupted after %.0f s; every process it started is stopped\n", took);
    return 130;
  }
  if (!failures_.empty()) {
    std::printf("\ndemo: FAILED after %.0f s (%zu step(s)):\n", took, failures_.size());
    for (const auto& f : failures_) std::printf("  - %s\n", f.c_str());
    std::printf("logs: %s\n", logs_.c_str());
    return 1;
  }
  std::printf("\ndemo: every step passed in %.0f s (logs: %s)\n", took, logs_.c_str());
  return 0;
}

}  // namespace
}  // namespace demo

void AddDemoCommand(CLI::App& app, Action& action) {
  auto args = std::make_shared<demo::Args>();
  CLI::App* cmd = app.add_subcommand("demo", "The hybrid loop end to end on this machine: broker, server, N agents.");
  cmd->add_option("--devices", args->devices, "number of devices (agents)")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_flag("--quick", args->quick, "shortened phases (for tests)");
  cmd->add_flag("--keep", args->keep, "leave the server and the broker running at the end");
  cmd->add_option("--dir", args->dir, "state folder (models are kept there and reused)")->capture_default_str();
  cmd->add_option("--port", args->port, "server port (default 8000 when free, else any free port; 0: any free port)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--mosquitto", args->mosquitto, "the Mosquitto binary")->capture_default_str();
  cmd->callback([&action, args] { action = [args] { return demo::Demo(*args).Run(); }; });
}

}  // namespace edgefleet::cli
