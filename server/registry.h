// Registry: the model registry and artifact store of the server (SPEC
// sections 4 and 6).
//
// What it is for: publishing an edge artifact (`edgefleet model publish`, and
// POST /api/models) validates it with the core's parser, takes its version,
// model id and thresholds from the artifact itself, hashes it (SHA-256),
// signs it with the server's Ed25519 key, writes it under
// <data-dir>/models/ and records it in the Store. The HTTP API asks the
// registry which model to offer, where its bytes are, and signs the OTA
// manifests.
//
// Files under the data dir:
//   keys/server.key   the server's Ed25519 private key (PEM PKCS#8, 0600)
//   keys/server.pub   its public key (PEM), the devices' trusted key
//   models/model-v<version>-<first 12 hex of sha256>.efm   artifacts (0644)
// An artifact's file name comes from the Store (where only plain names of
// letters, digits, '-', '_' and '.' are accepted) and is checked again before
// it is joined to the models folder, so no request can name a path.
//
// Caching: Latest() answers from memory for `cache_ms` after each read of the
// store, so hot routes (/model/version, /api/updates/check, /classify) cost no
// database round trip; a publish through this object refreshes it at once, a
// publish by another process (the CLI) is seen within cache_ms.
//
// Ownership and threads: the Registry borrows the Store and the Clock, which
// must outlive it, and owns its key. All methods are thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "common/error.h"
#include "common/manifest.h"
#include "server/clock.h"
#include "server/store/store.h"

namespace edgefleet::server {

using common::Expected;

// Where the server's files live under a data dir.
std::filesystem::path PrivateKeyPath(const std::filesystem::path& data_dir);
std::filesystem::path PublicKeyPath(const std::filesystem::path& data_dir);
std::filesystem::path ModelsDir(const std::filesystem::path& data_dir);
// The default database of a data dir: "sqlite:<data-dir>/edgefleet.db".
std::string DefaultDatabaseUrl(const std::filesystem::path& data_dir);

// What an artifact says about itself, after the core has validated it.
struct ArtifactInfo {
  std::string model_id;
  std::int64_t version = 0;
  std::int64_t size_bytes = 0;
  std::string sha256;
  store::ModelThresholds thresholds;
};

// kInvalidArgument (with the core's reason) unless `bytes` is a whole, valid
// artifact (its declared size is the size of `bytes`).
Expected<ArtifactInfo> InspectArtifact(std::span<const std::uint8_t> bytes);

// Reads the artifact file at `path` whole (at most kMaxArtifactBytes).
inline constexpr std::size_t kMaxArtifactBytes = 16 * 1024 * 1024;
Expected<std::string> ReadArtifactFile(const std::filesystem::path& path);

struct PublishOptions {
  std::int64_t min_device_ram_mb = 0;
  std::string min_firmware_version;  // "" = no constraint
};

class Registry {
 public:
  // `key` may be empty: then Publish and SignManifest fail with
  // kFailedPrecondition ("no signing key"), everything else works.
  Registry(store::Store& store, std::filesystem::path data_dir,
           std::optional<common::Ed25519PrivateKey> key, const Clock& clock, std::int64_t cache_ms);

  // Validates, signs, stores the file, records the model. kAlreadyExists for
  // a version already published, kConflict for one below the latest,
  // kInvalidArgument for a bad artifact or option.
  Expected<store::Model> Publish(std::span<const std::uint8_t> artifact, const PublishOptions& options);

  // The model to offer (the highest published or released version);
  // kNotFound when there is none. Cached, see above.
  Expected<store::Model> Latest();
  Expected<store::Model> Get(std::int64_t version);

  // The artifact file of a stored model; kCorrupt if the store holds a file
  // name that is not a plain name.
  Expected<std::filesystem::path> ArtifactPath(const store::Model& model) const;

  // The base64 Ed25519 signature of the manifest's canonical bytes.
  Expected<std::string> SignManifest(const common::Manifest& manifest) const;
  // The base64 Ed25519 signature of `bytes` (the X-Edgefleet-Signature of
  // GET /model/thresholds, docs/ota.md).
  Expected<std::string> SignBytes(std::string_view bytes) const;
  bool has_key() const { return key_.has_value(); }

 private:
  store::Store& store_;
  std::filesystem::path data_dir_;
  std::optional<common::Ed25519PrivateKey> key_;
  const Clock& clock_;
  std::int64_t cache_ms_;

  std::mutex cache_mu_;
  std::optional<Expected<store::Model>> cached_;
  std::int64_t cached_at_ms_ = 0;
};

// Loads <data-dir>/keys/server.key; nullopt (not an error) when the file does
// not exist, an Error when it exists but cannot be read.
Expected<std::optional<common::Ed25519PrivateKey>> LoadServerKey(const std::filesystem::path& data_dir);

// Formats a float threshold as the double with the float's shortest decimal
// text, so that JSON readers parsing it as float get the same float back.
double ShortestDouble(float value);

}  // namespace edgefleet::server
