// The real `edgefleet server` over loopback: a catalogue of malformed and
// hostile requests (each gets its status and JSON error, and the server
// stays up), the seeds' Python clients (tests/server/seed_compat.py, Debian's
// python3-aiohttp), and a graceful stop that drains every escalation.
//
// EDGEFLEET_CATALOGUE_REPEATS=N (default 1) repeats the catalogue N times and
// checks that the server's resident memory stays flat (bench/hostile_soak.sh
// runs it with 1,000).
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "server/broker/broker.h"
#include "server/store/store.h"
#include "tests/server/http_test_client.h"
#include "tests/server/server_process.h"
#include "tests/support/postgres_environment.h"

namespace edgefleet::server::testing {
namespace {

using http::testing::ParsedResponse;
using http::testing::RawClient;

const auto* const kPostgres = testsupport::PostgresEnvironment::Register();

struct Hostile {
  std::string name;
  std::string request;  // the bytes sent
  unsigned status;
  std::string error;    // the expected "error" code ("" = any)
};

std::string Features(std::size_t n, const std::string& v = "0.01") {
  std::string out = "[";
  for (std::size_t i = 0; i < n; ++i) out += (i ? "," : "") + v;
  return out + "]";
}

std::string ClassifyBody(const std::string& features = Features(300), const std::string& device = "fan-0001",
                         const std::string& rest = R"(,"edge_mse":0.02,"model_version":1)") {
  return R"({"device_id":")" + device + R"(","features":)" + features + rest + "}";
}

std::string Request(const std::string& method, const std::string& target, const std::string& token,
                    const std::string& body = "", const std::string& extra = "") {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!token.empty()) r += "Authorization: Bearer " + token + "\r\n";
  r += extra;
  if (method == "POST") r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + body;
}

std::vector<Hostile> Catalogue(const ServerProcess& s) {
  const std::string& t = s.device_token();
  const std::string& a = s.admin_token();
  const auto classify = [&](const std::string& body, const std::string& token) {
    return Request("POST", "/classify", token, body);
  };
  const auto range = [&](const std::string& value) {
    return Request("GET", "/model/download", t, "", "Range: " + value + "\r\n");
  };
  const auto status = [&](const std::string& body) { return Request("POST", "/api/updates/status", t, body); };
  const std::string ok_features = Features(300);
  return {
      // /classify: JSON and types
      {"classify truncated JSON", classify("{\"device_id\":\"fan-0001\",\"features\":[1,2", t), 400, "invalid_json"},
      {"classify empty body", classify("", t), 400, "invalid_json"},
      {"classify array body", classify("[1,2,3]", t), 400, "invalid_json"},
      {"classify string body", classify("\"hello\"", t), 400, "invalid_json"},
      {"classify trailing garbage", classify(ClassifyBody() + "}}", t), 400, "invalid_json"},
      {"classify device_id a number", classify(R"({"device_id":5,"features":[],"edge_mse":1})", t), 400, "invalid_argument"},
      {"classify features a string", classify(ClassifyBody("\"1,2,3\""), t), 400, "invalid_argument"},
      {"classify features an object", classify(ClassifyBody("{\"a\":1}"), t), 400, "invalid_argument"},
      {"classify 299 features", classify(ClassifyBody(Features(299)), t), 400, "invalid_argument"},
      {"classify 301 features", classify(ClassifyBody(Features(301)), t), 400, "invalid_argument"},
      {"classify 0 features", classify(ClassifyBody("[]"), t), 400, "invalid_argument"},
      {"classify NaN token", classify(ClassifyBody(Features(300, "NaN")), t), 400, "invalid_json"},
      {"classify Infinity token", classify(ClassifyBody(Features(300, "Infinity")), t), 400, "invalid_json"},
      {"classify -Infinity token", classify(ClassifyBody(Features(300, "-Infinity")), t), 400, "invalid_json"},
      {"classify 1e999", classify(ClassifyBody(Features(300, "1e999")), t), 400, "invalid_json"},
      {"classify -1e999", classify(ClassifyBody(Features(300, "-1e999")), t), 400, "invalid_json"},
      {"classify 1e300 (finite, out of range)", classify(ClassifyBody(Features(300, "1e300")), t), 400, "invalid_argument"},
      {"classify feature as string", classify(ClassifyBody(Features(300, "\"0.5\"")), t), 400, "invalid_argument"},
      {"classify feature null", classify(ClassifyBody(Features(300, "null")), t), 400, "invalid_argument"},
      {"classify feature nested array", classify(ClassifyBody(Features(300, "[1]")), t), 400, "invalid_argument"},
      {"classify edge_mse missing", classify(ClassifyBody(ok_features, "fan-0001", ""), t), 400, "invalid_argument"},
      {"classify edge_mse negative", classify(ClassifyBody(ok_features, "fan-0001", R"(,"edge_mse":-0.5)"), t), 400, "invalid_argument"},
      {"classify edge_mse NaN", classify(ClassifyBody(ok_features, "fan-0001", R"(,"edge_mse":NaN)"), t), 400, "invalid_json"},
      {"classify model_version 1.5", classify(ClassifyBody(ok_features, "fan-0001", R"(,"edge_mse":1,"model_version":1.5)"), t), 400, "invalid_argument"},
      {"classify duplicate key", classify(ClassifyBody(ok_features, "fan-0001", R"(,"edge_mse":1,"edge_mse":2)"), t), 400, "invalid_argument"},
      {"classify device_id traversal", classify(ClassifyBody(ok_features, "../../etc/passwd"), t), 400, "invalid_argument"},
      {"classify device_id invalid UTF-8", classify(ClassifyBody(ok_features, "fan\xff\xfe"), t), 400, "invalid_json"},
      {"classify unknown device (admin)", classify(ClassifyBody(ok_features, "ghost-7"), a), 404, "unknown_device"},
      {"classify another device's token", classify(ClassifyBody(), s.other_token()), 403, "permission_denied"},
      {"classify no token", classify(ClassifyBody(), ""), 401, "unauthenticated"},
      {"classify wrong token", classify(ClassifyBody(), "efd_" + std::string(64, '0')), 401, "unauthenticated"},
      {"classify empty bearer", Request("POST", "/classify", "", ClassifyBody(), "Authorization: Bearer \r\n"), 401, "unauthenticated"},
      {"classify garbage basic auth", Request("POST", "/classify", "", ClassifyBody(), "Authorization: Basic !!!\r\n"), 401, "unauthenticated"},
      {"classify 70 KB body", classify(ClassifyBody(ok_features, "fan-0001", R"(,"edge_mse":1,"pad":")" + std::string(70'000, 'x') + "\""), t), 413, "body_too_large"},
      {"classify 2 MB body declared", "POST /classify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + t +
           "\r\nContent-Length: 2097152\r\n\r\n" + std::string(1000, ' '), 413, ""},
      {"classify with GET", Request("GET", "/classify", t), 405, "method_not_allowed"},
      // /model/download: ranges and paths
      {"range past the end", range("bytes=999999-"), 416, "range_not_satisfiable"},
      {"range reversed", range("bytes=50-10"), 416, "range_not_satisfiable"},
      {"range overlapping", range("bytes=0-100,50-150"), 416, "range_not_satisfiable"},
      {"range two disjoint", range("bytes=0-10,20-30"), 416, "range_not_satisfiable"},
      {"range garbage", range("bytes=abc"), 416, "range_not_satisfiable"},
      {"range suffix zero", range("bytes=-0"), 416, "range_not_satisfiable"},
      {"download version traversal", Request("GET", "/model/download?version=../../keys/server.key", t), 400, "invalid_argument"},
      {"download version encoded traversal", Request("GET", "/model/download?version=%2e%2e%2fkeys%2fserver.key", t), 400, "invalid_argument"},
      {"download version absolute path", Request("GET", "/model/download?version=/etc/passwd", t), 400, "invalid_argument"},
      {"download version zero", Request("GET", "/model/download?version=0", t), 400, "invalid_argument"},
      {"download version unknown", Request("GET", "/model/download?version=99", t), 404, "not_found"},
      {"download bad percent escape", Request("GET", "/model/download?version=%zz", t), 400, "invalid_argument"},
      {"download no token", Request("GET", "/model/download", ""), 401, "unauthenticated"},
      // /api/updates
      {"check without device_id", Request("GET", "/api/updates/check?current_version=0", t), 400, "invalid_argument"},
      {"check current_version text", Request("GET", "/api/updates/check?device_id=fan-0001&current_version=v1", t), 400, "invalid_argument"},
      {"check negative RAM", Request("GET", "/api/updates/check?device_id=fan-0001&device_ram_mb=-5", t), 400, "invalid_argument"},
      {"check device traversal", Request("GET", "/api/updates/check?device_id=../etc", t), 400, "invalid_argument"},
      {"check another device", Request("GET", "/api/updates/check?device_id=fan-0002", t), 403, "permission_denied"},
      {"status bad JSON", status("{\"device_id\":"), 400, "invalid_json"},
      {"status unknown status", status(R"({"device_id":"fan-0001","status":"exploded","version":1})"), 400, "invalid_argument"},
      {"status version text", status(R"({"device_id":"fan-0001","status":"active","version":"abc"})"), 400, "invalid_argument"},
      {"status error a number", status(R"({"device_id":"fan-0001","status":"failed","version":1,"error":5})"), 400, "invalid_argument"},
      {"status error 5000 bytes", status(R"({"device_id":"fan-0001","status":"failed","version":1,"error":")" + std::string(5000, 'e') + "\"}"), 400, "invalid_argument"},
      // admin routes
      {"devices with a device token", Request("GET", "/api/devices", t), 403, "permission_denied"},
      {"device unknown", Request("GET", "/api/devices/ghost", a), 404, "unknown_device"},
      {"device path traversal", Request("GET", "/api/devices/..%2F..%2Fetc%2Fpasswd", a), 400, "invalid_argument"},
      {"publish garbage", Request("POST", "/api/models", a, "MZ\x90\x00garbage"), 400, "invalid_argument"},
      {"publish with a device token", Request("POST", "/api/models", t, "x"), 403, "permission_denied"},
      // sync
      {"sync garbage", Request("POST", "/api/sync", t, "{\"device_id\":"), 400, "invalid_argument"},
      {"sync claims zstd", Request("POST", "/api/sync", t, "not zstd", "Content-Encoding: zstd\r\n"), 400, ""},
      // transport
      {"unknown path", Request("GET", "/admin/../../etc/passwd", t), 404, "not_found"},
      {"header over 8 KiB", Request("GET", "/healthz", "", "", "X-Pad: " + std::string(9000, 'p') + "\r\n"), 431, ""},
      {"malformed request line", "GARBAGE\r\n\r\n", 400, ""},
  };
}

// One request on its own connection; nullopt if the server closed without answering.
std::optional<ParsedResponse> Send(std::uint16_t port, const std::string& bytes) {
  RawClient c(port, 5000);
  if (!c.connected() || !c.Send(bytes)) return std::nullopt;
  return c.Read();
}

long ResidentKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// tests/server/seed_compat.py (the seeds' Python clients) against `url`,
// with `env` (NAME=VALUE) added to its environment: it must exit 0 and say
// that every check passed.
void ExpectSeedClientsPass(const ServerProcess& server, const std::string& url,
                           const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv = {"/usr/bin/env"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.insert(argv.end(), {"/usr/bin/python3", std::string(EDGEFLEET_SOURCE_DIR) + "/tests/server/seed_compat.py",
                           "--url", url, "--token", server.device_token(), "--admin-token", server.admin_token(),
                           "--device", "fan-0001", "--artifact", server.golden().string(), "--public-key",
                           (server.data() / "keys" / "server.pub").string()});
  const std::string err_file = (server.data() / "compat.err").string();
  const RunResult r = RunProcess(argv, err_file);
  std::ifstream err(err_file);
  EXPECT_EQ(r.exit_code, 0) << r.out << std::string(std::istreambuf_iterator<char>(err), {});
  EXPECT_NE(r.out.find("seed_compat: all checks passed"), std::string::npos) << r.out;
}

class ServerE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(server_.Start()); }
  ServerProcess server_{"[server]\nheader_timeout_ms = 1500\n[escalations]\nbatch_interval_ms = 5\n"};
};

TEST_F(ServerE2eTest, HostileCatalogueGetsJsonErrorsAndTheServerStaysUp) {
  const std::vector<Hostile> catalogue = Catalogue(server_);
  ASSERT_GE(catalogue.size(), 40u);
  const char* env = std::getenv("EDGEFLEET_CATALOGUE_REPEATS");
  const int repeats = env ? std::max(1, std::atoi(env)) : 1;
  long rss_after_first = 0;
  for (int round = 0; round < repeats; ++round) {
    for (const Hostile& h : catalogue) {
      const auto r = Send(server_.port(), h.request);
      ASSERT_TRUE(r.has_value()) << h.name << ": no answer";
      EXPECT_EQ(r->status, h.status) << h.name << ": " << r->body;
      const auto body = nlohmann::json::parse(r->body, nullptr, false);
      ASSERT_TRUE(body.is_object()) << h.name << ": " << r->body;
      EXPECT_TRUE(body.contains("error") && body.contains("message")) << h.name << ": " << r->body;
      if (!h.error.empty()) {
        EXPECT_EQ(body.value("error", ""), h.error) << h.name << ": " << r->body;
      }
      if (round == 0) {
        ASSERT_TRUE(server_.Alive()) << h.name << " killed the server";
      }
    }
    const auto health = Send(server_.port(), Request("GET", "/healthz", ""));
    ASSERT_TRUE(health && health->status == 200) << "round " << round;
    if (round == 0) rss_after_first = ResidentKb(server_.pid());
  }
  if (repeats > 1) {
    const long rss = ResidentKb(server_.pid());
    std::printf("resident memory after round 1: %ld kB, after round %d: %ld kB\n", rss_after_first, repeats, rss);
    EXPECT_LT(rss, rss_after_first + 16 * 1024) << "resident memory grew by more than 16 MB";
  }
  // Nothing hostile was stored.
  server_.Stop();
  auto store = store::OpenStore("sqlite:" + (server_.data() / "edgefleet.db").string()).value();
  EXPECT_EQ(store->CountEscalations({}).value(), 0);
}

TEST_F(ServerE2eTest, SlowHeadersOneByteASecondAreCutOffWith408) {
  RawClient c(server_.port(), 5000);
  const std::string request = Request("GET", "/healthz", "");
  bool answered = false;
  for (std::size_t sent = 0; sent < request.size() && !answered; ++sent) {
    if (!c.Send(request.substr(sent, 1))) break;
    answered = c.Readable(1000);
  }
  ASSERT_TRUE(answered);
  const auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408u);
  EXPECT_TRUE(nlohmann::json::parse(r->body, nullptr, false).contains("error"));
  EXPECT_TRUE(server_.Alive());
  EXPECT_EQ(Send(server_.port(), Request("GET", "/healthz", ""))->status, 200u);
}

TEST_F(ServerE2eTest, TheSeedsPythonClientsWorkUnchangedButForTheBearerHeader) {
  ExpectSeedClientsPass(server_, "http://127.0.0.1:" + std::to_string(server_.port()));
}

TEST_F(ServerE2eTest, StopDrainsEveryAnsweredEscalation) {
  RawClient c(server_.port(), 5000);
  const int n = 120;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(c.Send(Request("POST", "/classify", server_.device_token(), ClassifyBody())));
    const auto r = c.Read();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200u) << r->body;
  }
  EXPECT_EQ(server_.Stop(), 0) << server_.Log();
  auto store = store::OpenStore("sqlite:" + (server_.data() / "edgefleet.db").string()).value();
  EXPECT_EQ(store->CountEscalations({}).value(), n);
  EXPECT_EQ(store->GetDevice("fan-0001").value().counters.escalations, n);
  std::ifstream log(server_.data() / "escalations" / "escalations.jsonl");
  int lines = 0;
  for (std::string line; std::getline(log, line);) ++lines;
  EXPECT_EQ(lines, n);
}

// HTTPS through the real process: `server.tls_cert` and `server.tls_key` from
// the config file (a self-signed certificate made by the `openssl` CLI), and
// the seeds' Python clients, unchanged, over https:// with that certificate as
// their only trusted root (SSL_CERT_FILE): every endpoint, the update manifest's
// download URL (which must then be https://) and a resumed download included.
// A plain-HTTP request on the same port gets no HTTP answer.
TEST(ServerTls, TheSeedsClientsWorkOverHttpsWithASelfSignedCertificate) {
  TempDir certs;
  const std::string cert = (certs.path() / "cert.pem").string();
  const std::string key = (certs.path() / "key.pem").string();
  const std::string make = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext "
                           "subjectAltName=IP:127.0.0.1 -days 1 -keyout " + key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(make.c_str()), 0);
  ServerProcess server("[server]\ntls_cert = \"" + cert + "\"\ntls_key = \"" + key + "\"\n");
  ASSERT_NO_FATAL_FAILURE(server.Start());

  ExpectSeedClientsPass(server, "https://127.0.0.1:" + std::to_string(server.port()), {"SSL_CERT_FILE=" + cert});

  RawClient plain(server.port(), 2000);
  ASSERT_TRUE(plain.Send(Request("GET", "/healthz", "")));
  EXPECT_FALSE(plain.Read());
  EXPECT_TRUE(server.Alive());
  EXPECT_EQ(server.Stop(), 0) << server.Log();
}

// The same clients against the server on PostgreSQL (a throwaway server from
// tests/support, a fresh database): the CLI and the server both given
// `--db postgresql://...`. Afterwards the database holds what the clients
// caused (the escalations, matching the device's counter and the log) and no
// SQLite file was made.
TEST(ServerPostgres, TheSeedsClientsWorkWithTheStoreOnPostgresql) {
  auto pg = testsupport::PostgresEnvironment::Get()->Server();
  ASSERT_TRUE(pg.ok()) << pg.error().ToString();
  auto url = (*pg)->CreateDatabase("server_e2e");
  ASSERT_TRUE(url.ok()) << url.error().ToString();
  ServerProcess server("[escalations]\nbatch_interval_ms = 5\n", *url);
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ExpectSeedClientsPass(server, "http://127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(server.Stop(), 0) << server.Log();

  auto store = store::OpenStore(*url);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  const std::int64_t escalations = (*store)->CountEscalations({}).value();
  EXPECT_GT(escalations, 0);
  EXPECT_EQ((*store)->GetDevice("fan-0001").value().counters.escalations, escalations);
  std::ifstream log(server.data() / "escalations" / "escalations.jsonl");
  std::int64_t lines = 0;
  for (std::string line; std::getline(log, line);) ++lines;
  EXPECT_EQ(lines, escalations);
  EXPECT_FALSE(std::filesystem::exists(server.data() / "edgefleet.db"));
}

// The CLI around the server: exit statuses (0, 1 failure, 2 usage), keys that
// are not overwritten, sign / verify round trips, a tampered artifact refused.
TEST(ServerCli, SignVerifyAndExitStatuses) {
  ServerProcess s;  // keys generated, devices added, v1 published; not started
  const std::string bin = EDGEFLEET_BIN;
  const std::string dir = s.data().string();
  const std::string sig = dir + "/edge.sig";
  EXPECT_EQ(RunProcess({bin, "model", "sign", s.golden().string(), "--data-dir", dir, "--out", sig}).exit_code, 0);
  const RunResult verified = RunProcess({bin, "model", "verify", s.golden().string(), "--data-dir", dir, "--signature", sig});
  EXPECT_EQ(verified.exit_code, 0);
  EXPECT_NE(verified.out.find("ok: "), std::string::npos);
  // The registry stored the same signature (Ed25519 is deterministic).
  auto store = store::OpenStore("sqlite:" + dir + "/edgefleet.db").value();
  std::ifstream sig_in(sig);
  std::string sig_text;
  sig_in >> sig_text;
  EXPECT_EQ(store->GetModel(1).value().signature, sig_text);

  // One byte changed: the core's parser refuses it before any signature check.
  std::string bytes = api::testing::TrainedModels().golden_v1;
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5a);
  const std::string tampered = dir + "/tampered.efm";
  std::ofstream(tampered, std::ios::binary) << bytes;
  EXPECT_EQ(RunProcess({bin, "model", "verify", tampered, "--data-dir", dir, "--signature", sig}).exit_code, 1);
  EXPECT_EQ(RunProcess({bin, "model", "publish", tampered, "--data-dir", dir}).exit_code, 1);
  // Republishing version 1: refused, nothing changes.
  EXPECT_EQ(RunProcess({bin, "model", "publish", s.golden().string(), "--data-dir", dir}).exit_code, 1);
  EXPECT_EQ(RunProcess({bin, "keys", "generate", "--data-dir", dir}).exit_code, 1);  // never overwritten silently
  EXPECT_EQ(RunProcess({bin, "device", "add", "fan-0001", "--data-dir", dir}).exit_code, 1);  // exists
  EXPECT_EQ(RunProcess({bin, "device", "add", "bad id", "--data-dir", dir}).exit_code, 1);
  // A colon is a valid store id but not a broker user name: refused before anything is stored.
  EXPECT_EQ(RunProcess({bin, "device", "add", "fan:1", "--data-dir", dir}).exit_code, 1);
  // device add writes the device's broker password: the token it printed verifies.
  const RunResult added = RunProcess({bin, "device", "add", "fan-broker", "--data-dir", dir});
  ASSERT_EQ(added.exit_code, 0);
  std::string token = added.out;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  std::string passwd_line;
  for (std::ifstream passwd(dir + "/mosquitto/passwd"); std::getline(passwd, passwd_line);) {
    if (passwd_line.rfind("fan-broker:", 0) == 0) break;
  }
  ASSERT_EQ(passwd_line.rfind("fan-broker:", 0), 0u);
  EXPECT_TRUE(broker::VerifyPassword(passwd_line.substr(11), token).value());
  EXPECT_FALSE(broker::VerifyPassword(passwd_line.substr(11), token + "x").value());
  EXPECT_EQ(RunProcess({bin, "device", "add", "fan-9"}).exit_code, 2);  // no --data-dir
  EXPECT_EQ(RunProcess({bin, "server"}).exit_code, 2);
  EXPECT_EQ(RunProcess({bin, "server", "--data-dir", dir, "--port", "70000"}).exit_code, 2);
  EXPECT_EQ(RunProcess({bin, "model", "frobnicate"}).exit_code, 2);
  EXPECT_EQ(store->ListModels().value().size(), 1u);
  EXPECT_EQ(store->ListDevices().value().size(), 3u);
}

}  // namespace
}  // namespace edgefleet::server::testing
