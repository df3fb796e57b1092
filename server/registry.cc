#include "server/registry.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <vector>

#include "common/file.h"
#include "core/artifact.h"

namespace edgefleet::server {
namespace {

using common::Error;
using common::ErrorCode;

bool IsPlainFileName(std::string_view name) {
  if (name.empty() || name.size() > store::kMaxShortTextBytes || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

std::int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::filesystem::path PrivateKeyPath(const std::filesystem::path& data_dir) {
  return data_dir / "keys" / "server.key";
}
std::filesystem::path PublicKeyPath(const std::filesystem::path& data_dir) {
  return data_dir / "keys" / "server.pub";
}
std::filesystem::path ModelsDir(const std::filesystem::path& data_dir) { return data_dir / "models"; }
std::string DefaultDatabaseUrl(const std::filesystem::path& data_dir) {
  return "sqlite:" + (data_dir / "edgefleet.db").string();
}

double ShortestDouble(float value) {
  char text[32];
  const auto r = std::to_chars(text, text + sizeof(text), value);
  *r.ptr = '\0';
  return std::strtod(text, nullptr);
}

Expected<ArtifactInfo> InspectArtifact(std::span<const std::uint8_t> bytes) {
  // The core reads arrays in place and wants 4-byte alignment.
  std::vector<std::uint32_t> aligned(bytes.size() / 4 + 1);
  if (!bytes.empty()) std::memcpy(aligned.data(), bytes.data(), bytes.size());
  const auto parsed = core::ParseArtifact(reinterpret_cast<const std::uint8_t*>(aligned.data()), bytes.size());
  if (!parsed.ok()) {
    return Error(ErrorCode::kInvalidArgument,
                 std::string("not a valid model artifact (") + core::ToString(parsed.status) + ")");
  }
  const core::ModelView& m = parsed.value;
  if (m.size != bytes.size()) {
    return Error(ErrorCode::kInvalidArgument, "the artifact is followed by " +
                                                  std::to_string(bytes.size() - m.size) + " extra bytes");
  }
  if (m.model_version < 1) return Error(ErrorCode::kInvalidArgument, "the artifact's model version is 0");
  ArtifactInfo info;
  info.model_id = m.model_id;
  if (info.model_id.empty()) return Error(ErrorCode::kInvalidArgument, "the artifact has no model id");
  info.version = m.model_version;
  info.size_bytes = static_cast<std::int64_t>(bytes.size());
  EDGEFLEET_ASSIGN_OR_RETURN(info.sha256, common::Sha256Hex(bytes));
  const core::Thresholds& t = m.thresholds;
  info.thresholds = {ShortestDouble(t.low), ShortestDouble(t.high),  ShortestDouble(t.mu),
                     ShortestDouble(t.sigma), ShortestDouble(t.k_low), ShortestDouble(t.k_high)};
  return info;
}

Expected<std::string> ReadArtifactFile(const std::filesystem::path& path) {
  return common::ReadFile(path, kMaxArtifactBytes);
}

Expected<std::optional<common::Ed25519PrivateKey>> LoadServerKey(const std::filesystem::path& data_dir) {
  const std::filesystem::path path = PrivateKeyPath(data_dir);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<common::Ed25519PrivateKey>();
  auto key = common::ReadPrivateKeyPem(path);
  if (!key.ok()) return std::move(key).error().WithContext("reading " + path.string());
  return std::optional<common::Ed25519PrivateKey>(std::move(key).value());
}

Registry::Registry(store::Store& store, std::filesystem::path data_dir,
                   std::optional<common::Ed25519PrivateKey> key, const Clock& clock, std::int64_t cache_ms)
    : store_(store), data_dir_(std::move(data_dir)), key_(std::move(key)), clock_(clock), cache_ms_(cache_ms) {}

Expected<store::Model> Registry::Publish(std::span<const std::uint8_t> artifact, const PublishOptions& options) {
  if (!key_) {
    return Error(ErrorCode::kFailedPrecondition,
                 "the server has no signing key (run `edgefleet keys generate --data-dir DIR`)");
  }
  if (options.min_device_ram_mb < 0) return Error(ErrorCode::kInvalidArgument, "min_device_ram_mb is negative");
  EDGEFLEET_ASSIGN_OR_RETURN(const ArtifactInfo info, InspectArtifact(artifact));
  EDGEFLEET_ASSIGN_OR_RETURN(const common::Ed25519Signature sig, common::Sign(*key_, artifact));
  store::Model model;
  model.version = info.version;
  model.model_id = info.model_id;
  model.filename = "model-v" + std::to_string(info.version) + "-" + info.sha256.substr(0, 12) + ".efm";
  model.size_bytes = info.size_bytes;
  model.sha256 = info.sha256;
  EDGEFLEET_ASSIGN_OR_RETURN(model.signature, common::Base64Encode(sig));
  model.min_device_ram_mb = options.min_device_ram_mb;
  model.min_firmware_version = options.min_firmware_version;
  model.thresholds = info.thresholds;
  model.created_ms = clock_.NowMs();

  // Refuse early what the store would refuse, before a file is written.
  if (auto existing = store_.GetModel(model.version); existing.ok()) {
    return Error(ErrorCode::kAlreadyExists,
                 "model version " + std::to_string(model.version) + " is published already");
  }
  const std::filesystem::path dir = ModelsDir(data_dir_);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error(ErrorCode::kIo, "cannot create " + dir.string() + ": " + ec.message());
  const std::filesystem::path file = dir / model.filename;
  // The name holds the hash: an existing file of that name has these bytes
  // (another publisher's, or a run that died before recording it).
  const bool existed = std::filesystem::exists(file, ec);
  if (!existed) {
    EDGEFLEET_RETURN_IF_ERROR(common::WriteFileAtomically(
        file, artifact,
        std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
            std::filesystem::perms::group_read | std::filesystem::perms::others_read));
  }
  if (auto published = store_.PublishModel(model); !published.ok()) {
    if (!existed && published.error().code() != ErrorCode::kAlreadyExists) std::filesystem::remove(file, ec);
    return std::move(published).error();
  }
  std::lock_guard lock(cache_mu_);
  cached_.reset();
  return model;
}

Expected<store::Model> Registry::Latest() {
  std::lock_guard lock(cache_mu_);
  const std::int64_t now = SteadyMs();
  if (cached_ && now - cached_at_ms_ < cache_ms_) return *cached_;
  auto latest = store_.LatestPublishedModel();
  // Only answers are cached; a store that cannot be reached is asked again.
  if (latest.ok() || latest.error().code() == ErrorCode::kNotFound) {
    cached_ = latest;
    cached_at_ms_ = now;
  }
  return latest;
}

Expected<store::Model> Registry::Get(std::int64_t version) { return store_.GetModel(version); }

Expected<std::filesystem::path> Registry::ArtifactPath(const store::Model& model) const {
  if (!IsPlainFileName(model.filename)) {
    return Error(ErrorCode::kCorrupt, "model version " + std::to_string(model.version) +
                                          " has a file name that is not a plain name");
  }
  return ModelsDir(data_dir_) / model.filename;
}

Expected<std::string> Registry::SignManifest(const common::Manifest& manifest) const {
  if (!key_) return Error(ErrorCode::kFailedPrecondition, "the server has no signing key");
  return common::SignManifest(*key_, manifest);
}

Expected<std::string> Registry::SignBytes(std::string_view bytes) const {
  if (!key_) return Error(ErrorCode::kFailedPrecondition, "the server has no signing key");
  auto signature = common::Sign(*key_, common::AsBytes(bytes));
  if (!signature.ok()) return signature.error();
  return common::Base64Encode(signature.value());
}

}  // namespace edgefleet::server
