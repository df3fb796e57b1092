#include "server/store/store.h"

#include <utility>

#include "server/store/sql.h"

namespace edgefleet::store {

using common::Error;
using common::ErrorCode;

const char* ToString(ModelStatus status) {
  switch (status) {
    case ModelStatus::kPublished: return "published";
    case ModelStatus::kHalted: return "halted";
    case ModelStatus::kReleased: return "released";
  }
  return "unknown";
}

Expected<ModelStatus> ParseModelStatus(std::string_view text) {
  for (const ModelStatus s : {ModelStatus::kPublished, ModelStatus::kHalted, ModelStatus::kReleased}) {
    if (text == ToString(s)) return s;
  }
  return Error(ErrorCode::kInvalidArgument, "unknown model status '" + std::string(text) + "'");
}

const char* ToString(UpdateStatus status) {
  switch (status) {
    case UpdateStatus::kPending: return "pending";
    case UpdateStatus::kDownloading: return "downloading";
    case UpdateStatus::kValidating: return "validating";
    case UpdateStatus::kApplying: return "applying";
    case UpdateStatus::kActive: return "active";
    case UpdateStatus::kRolledBack: return "rolled_back";
    case UpdateStatus::kFailed: return "failed";
  }
  return "unknown";
}

Expected<UpdateStatus> ParseUpdateStatus(std::string_view text) {
  for (const UpdateStatus s :
       {UpdateStatus::kPending, UpdateStatus::kDownloading, UpdateStatus::kValidating,
        UpdateStatus::kApplying, UpdateStatus::kActive, UpdateStatus::kRolledBack,
        UpdateStatus::kFailed}) {
    if (text == ToString(s)) return s;
  }
  return Error(ErrorCode::kInvalidArgument, "unknown update status '" + std::string(text) + "'");
}

namespace {

// The URL for messages: a PostgreSQL URI's user:password part is hidden.
std::string Redacted(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const auto at = url.find('@', scheme + 3);
  const auto slash = url.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return url;
  return url.substr(0, scheme + 3) + "***" + url.substr(at);
}

}  // namespace

Expected<std::unique_ptr<Store>> OpenStore(const std::string& url, const StoreOptions& options) {
  auto backend = sql::MakeBackend(url, options);
  if (!backend.ok()) return std::move(backend).error();
  auto store = sql::MakeSqlStore(std::move(backend).value(), options);
  if (!store.ok()) return std::move(store).error().WithContext("opening store " + Redacted(url));
  return store;
}

int LatestSchemaVersion() { return static_cast<int>(sql::SqliteMigrations().size()); }

}  // namespace edgefleet::store
