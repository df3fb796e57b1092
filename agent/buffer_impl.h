// The buffer's private state and helpers shared by buffer.cc and
// buffer_maintenance.cc. Every function here expects impl.mu to be held.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "agent/buffer.h"
#include "agent/sqlite_db.h"

namespace edgefleet::agent {

struct Buffer::Impl {
  std::mutex mu;
  std::unique_ptr<sqlite::Connection> db;  // null after Close
  BufferOptions options;
  std::int64_t released_at_open = 0;  // provisional rows Open released

  Expected<void> CheckOpen() const;
  Expected<std::int64_t> Meta(std::string_view key, std::int64_t fallback);
  Expected<void> SetMeta(std::string_view key, std::int64_t value);
  Expected<std::int64_t> Counter(std::string_view name);
  Expected<void> AddCounter(std::string_view name, std::int64_t delta);
  Expected<void> AddPeriodCounter(std::int64_t model_version, std::string_view column);
  Expected<std::int64_t> InsertHealth(const sync::HealthRow& row);
  Expected<std::int64_t> UsedBytes();
  // Applies the disk budget (agent/buffer.h, "Disk budget and drop policy").
  Expected<void> EnforceBudget();
  Expected<BufferStats> StatsLocked();
  // Releases every provisional row (Buffer::ReleaseProvisional); returns the
  // inference rows released.
  Expected<std::int64_t> ReleaseProvisionalLocked();
  Expected<std::vector<sync_codec::StrategyBytes>> BytesSentLocked();
};

}  // namespace edgefleet::agent
