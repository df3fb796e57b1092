// A Filesystem (agent/ota/platform.h) in memory that simulates crashes the
// way LevelDB's fault-injection Env does: bytes written but not fsynced are
// lost at a simulated crash, and so is any name (creation, rename, removal)
// not followed by an fsync of its directory. It can also run out of space,
// and "die" after a given number of mutating steps: every later mutation
// fails without effect, as if the process had been killed at that point,
// until SimulateCrash() reverts to what was durable and revives it.
//
// Every mutating call is split into the steps a real kernel performs
// (WriteFileAtomically: write temp, fsync temp, rename, fsync dir), so a crash
// can land between any two of them. Not thread-safe (tests are single-threaded).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "agent/ota/platform.h"

namespace edgefleet::ota::testing {

class FaultFilesystem final : public Filesystem {
 public:
  Expected<std::string> ReadFile(const std::filesystem::path& path, std::size_t max_bytes) override;
  Expected<std::uint64_t> FileSize(const std::filesystem::path& path) override;
  Expected<void> WriteFileAtomically(const std::filesystem::path& path, std::string_view bytes) override;
  Expected<void> WriteAt(const std::filesystem::path& path, std::uint64_t offset, std::string_view bytes,
                         bool sync) override;
  Expected<void> Remove(const std::filesystem::path& path) override;
  Expected<void> SyncDir(const std::filesystem::path& dir) override;
  Expected<void> CreateDirectories(const std::filesystem::path& dir) override;
  Expected<std::uint64_t> FreeBytes(const std::filesystem::path& dir) override;

  // The process "dies" after `steps` more mutating steps (0: the next one fails).
  void DieAfter(std::uint64_t steps) { die_after_ = steps; }
  bool dead() const { return dead_; }
  // Drops everything not durable and revives the filesystem.
  void SimulateCrash();

  void set_capacity(std::uint64_t bytes) { capacity_ = bytes; }
  // FreeBytes answers this instead of the truth (a disk that fills up after the check).
  void set_reported_free(std::optional<std::uint64_t> bytes) { reported_free_ = bytes; }
  std::uint64_t steps() const { return steps_; }
  std::uint64_t used() const;

  // Test setup: a file that is already durable.
  void PutDurable(const std::filesystem::path& path, std::string_view bytes);
  bool Exists(const std::filesystem::path& path) const { return names_.count(path.string()) != 0; }
  // Every name, for "nothing half-written left behind" checks.
  std::vector<std::string> Names() const;

 private:
  struct Inode {
    std::string data;
    std::string synced;
  };
  bool Step();
  Expected<void> Dead() const;

  std::map<std::string, std::shared_ptr<Inode>> names_;
  std::map<std::string, std::shared_ptr<Inode>> durable_names_;
  std::uint64_t capacity_ = std::numeric_limits<std::uint64_t>::max();
  std::optional<std::uint64_t> reported_free_;
  std::optional<std::uint64_t> die_after_;
  bool dead_ = false;
  std::uint64_t steps_ = 0;
  std::uint64_t temp_counter_ = 0;
};

}  // namespace edgefleet::ota::testing
