// Kill -9 test of the buffer: a child process appends rows and "syncs" them
// against a fake server (its own SQLite file, idempotent) in a loop, and is
// killed with a real SIGKILL at a random moment, 50 times on the same files.
// Then the parent drains what is left. No row the child was told was
// appended is lost; the server holds exactly the rows the buffer made; no
// row is stored twice; and a batch came back "already present" at most once
// per kill (a kill between the server's commit and the buffer's mark).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include "agent/buffer.h"
#include "tests/agent/fake_sync_server.h"

namespace edgefleet::agent {
namespace {

namespace fs = std::filesystem;

sync::InferenceRow Row(std::int64_t ts, double confidence) {
  sync::InferenceRow r;
  r.ts_ms = ts;
  r.model_version = 1;
  r.decision = confidence < 0.7 ? "normal" : "anomaly";
  r.confidence = confidence;
  r.mse = 0.5;
  r.latency_us = 100;
  return r;
}

// The child: never returns. Each appended row's (kind, seq) is written to the
// log after Append returned (a write(2) of a line survives SIGKILL).
[[noreturn]] void ChildLoop(const fs::path& dir, unsigned seed) {
  auto buffer = Buffer::Open(dir / "buffer.db");
  auto server = testing::FakeServer::Open((dir / "server.db").string());
  const int log = ::open((dir / "appended.log").c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (!buffer.ok() || !server || log < 0) ::_exit(3);
  std::mt19937 rng(seed);
  std::vector<float> window(sync::kWindowValues, 0.125f);
  BatchBudget budget;
  budget.max_bytes = 4096;
  for (std::int64_t i = 0;; ++i) {
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) {
      const double confidence = (rng() % 4 == 0) ? 0.6 : 0.9;
      auto a = buffer.value()->AppendInference(Row(i * 10 + k, confidence), window);
      if (!a.ok()) ::_exit(4);
      std::string line = "0 " + std::to_string(a->inference_seq) + "\n";
      if (a->hard_sample_seq >= 0) line += "1 " + std::to_string(a->hard_sample_seq) + "\n";
      if (::write(log, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(5);
    }
    auto batch = buffer.value()->NextBatch(budget);
    if (!batch.ok()) ::_exit(6);
    auto ack = server->Ingest(batch.value());
    if (!ack.ok()) ::_exit(7);
    if (!buffer.value()->ApplyAck(batch.value(), ack.value()).ok()) ::_exit(8);
  }
}

TEST(BufferCrashTest, Sigkill50TimesLosesNothingAndStoresNothingTwice) {
  const fs::path dir = fs::temp_directory_path() / ("buffer_crash_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::mt19937 rng(20261206);
  constexpr int kKills = 50;
  for (int round = 0; round < kKills; ++round) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) ChildLoop(dir, static_cast<unsigned>(round));
    ::usleep(static_cast<useconds_t>(2000 + rng() % 40000));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child exited by itself with " << WEXITSTATUS(status);
  }

  // Drain what is left with the parent as the device.
  auto buffer = Buffer::Open(dir / "buffer.db");
  ASSERT_TRUE(buffer.ok()) << buffer.error().ToString();
  auto server = testing::FakeServer::Open((dir / "server.db").string());
  ASSERT_TRUE(server);
  for (int i = 0; i < 100000; ++i) {
    auto batch = buffer.value()->NextBatch({});
    ASSERT_TRUE(batch.ok());
    if (batch->inferences.empty() && batch->hard_samples.empty() && batch->health.empty()) break;
    auto ack = server->Ingest(batch.value());
    ASSERT_TRUE(ack.ok());
    ASSERT_TRUE(buffer.value()->ApplyAck(batch.value(), ack.value()).ok());
  }
  auto stats = buffer.value()->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->pending_total(), 0);
  EXPECT_EQ(stats->dropped.total(), 0);
  // Every kill after the child's open had committed is an unclean restart.
  EXPECT_GT(stats->unclean_restarts, 0);
  EXPECT_LE(stats->unclean_restarts, kKills);

  const auto stored = server->Rows();
  std::set<std::pair<std::int64_t, std::int64_t>> appended;
  std::ifstream log(dir / "appended.log");
  std::int64_t kind = 0;
  std::int64_t seq = 0;
  while (log >> kind >> seq) appended.insert({kind, seq});
  ASSERT_GT(appended.size(), 100u) << "the children made too little progress to test anything";
  for (const auto& row : appended) {
    EXPECT_TRUE(stored.contains(row)) << "lost: kind " << row.first << " seq " << row.second;
  }
  // The server holds exactly what the buffer made (the log may miss the rows
  // of a kill between commit and log write, never more than one append's).
  EXPECT_LE(stored.size() - appended.size(), static_cast<std::size_t>(2 * kKills));
  std::int64_t max_seq[2] = {0, 0};
  for (const auto& [k, s] : stored) {
    ASSERT_TRUE(k == 0 || k == 1);
    max_seq[k] = std::max(max_seq[k], s);
  }
  std::size_t inferences = 0;
  for (const auto& [k, s] : stored) inferences += k == 0 ? 1 : 0;
  EXPECT_EQ(static_cast<std::int64_t>(inferences), max_seq[0]) << "a gap or a duplicate in inference seqs";
  EXPECT_LE(server->CallsWithPresentRows(), kKills);
  ASSERT_TRUE(buffer.value()->Close().ok());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace edgefleet::agent
