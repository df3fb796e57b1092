// Validation of what the store is asked to write, shared by every query of
// the SQL store (sql_store.cc): each function answers kInvalidArgument with
// one sentence naming the field, or Ok. Internal to server/store.
//
// Threads: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/text.h"
#include "server/store/store.h"

namespace edgefleet::store::sql {

common::Error Invalid(std::string message);

// Letters, digits and - _ . : (common::IsDeviceIdText), at most kMaxIdBytes.
common::Expected<void> CheckDeviceId(std::string_view id);
// Not empty unless allowed, at most max_bytes, no NUL byte, valid UTF-8.
using common::CheckText;
// A file name under the server's data dir: no path separators, no "..".
common::Expected<void> CheckFilename(std::string_view name);
// 64 lowercase hex digits.
common::Expected<void> CheckTokenHash(std::string_view hash);
common::Expected<void> CheckAtLeast(std::string_view field, std::int64_t value, std::int64_t minimum);
using common::CheckFinite;
// kWindowValues finite numbers.
common::Expected<void> CheckWindow(std::string_view field, const std::vector<float>& values);
common::Expected<void> CheckJsonObject(std::string_view field, std::string_view json);
common::Expected<void> CheckDecision(std::string_view decision);
common::Expected<void> CheckModel(const Model& m);
common::Expected<void> CheckEscalation(const Escalation& e);
common::Expected<void> CheckReport(const DeviceReport& r);
// Every row of every kind, and seqs strictly increasing per kind.
common::Expected<void> CheckBatch(const SyncBatch& batch);

}  // namespace edgefleet::store::sql
