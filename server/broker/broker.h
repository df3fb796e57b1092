// The Mosquitto broker's configuration: per-device credentials and ACLs
// (SPEC sections 5 and 9, deployment helpers).
//
// What it is for: `edgefleet broker config` writes a Mosquitto 2.0
// configuration under the server's data dir; `edgefleet device add` calls
// AddDeviceCredential when it creates a device's token (the only moment the
// token is known: the store keeps only its hash); the server's bridge reads
// its own credential with ReadBridgeCredential. The test fixture
// (tests/support/mosquitto_broker.h) starts a real broker on these files.
//
// Files, all under <data_dir>/mosquitto/ (BrokerFiles):
//   mosquitto.conf     listener on 127.0.0.1:<port> (by default), anonymous
//                      clients refused, password_file and acl_file below,
//                      persistence off (or under this folder)
//   passwd             one "<username>:$7$<iterations>$<base64 salt>$<base64
//                      hash>" line per user: Mosquitto 2.0's PBKDF2-SHA512
//                      format (the one `mosquitto_passwd` writes), 12-byte
//                      salt, 64-byte hash; mode 0640
//   acl                the bridge user reads edge-ai/device/+/#; every other
//                      user (a device, username = device id) reads and writes
//                      only edge-ai/device/<its id>/# (a `pattern` line, %u)
//   bridge.credential  "<username>:<password>\n", mode 0600: the server's
//                      bridge user (kBridgeUsername), generated once
// Every file is replaced atomically (common/file.h); changes to passwd take
// effect in a running broker after SIGHUP (`systemctl reload mosquitto`).
//
// Errors: kInvalidArgument for a device id that is not telemetry's
// IsValidDeviceId or is the reserved bridge username, or an empty token;
// kIo for file errors; kCorrupt for a passwd or credential file this code did
// not write.
//
// Threads and processes: functions that change passwd hold an exclusive
// flock on <data_dir>/mosquitto/.lock, so the CLI and a server on the same
// data dir may call them concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"

namespace edgefleet::broker {

template <typename T>
using Expected = common::Expected<T>;

inline constexpr std::string_view kBridgeUsername = "edgefleet-bridge";
inline constexpr int kDefaultPort = 1883;
// PBKDF2 rounds of new entries. mosquitto_passwd writes 101; more is slower
// to brute-force and still costs the broker well under a millisecond per
// connection.
inline constexpr int kDefaultIterations = 1000;
inline constexpr std::size_t kSaltBytes = 12;
inline constexpr std::size_t kHashBytes = 64;

struct BrokerFiles {
  std::filesystem::path dir;
  std::filesystem::path config;
  std::filesystem::path password_file;
  std::filesystem::path acl_file;
  std::filesystem::path bridge_credential;
};
BrokerFiles FilesFor(const std::filesystem::path& data_dir);

struct Credential {
  std::string username;
  std::string password;
};

// Ok for a device id the broker can carry (telemetry::IsValidDeviceId, and
// not kBridgeUsername). `edgefleet device add` checks this before it stores
// the device.
Expected<void> ValidateDeviceId(std::string_view id);

// "$7$<iterations>$<base64 salt>$<base64 hash>" of `password`, with a random
// salt (HashPassword) or the given one (for tests).
Expected<std::string> HashPassword(std::string_view password, int iterations = kDefaultIterations);
Expected<std::string> HashPasswordWithSalt(std::string_view password, std::span<const std::uint8_t> salt,
                                           int iterations);
// Whether `password` matches a "$7$..." entry; kCorrupt for a malformed entry.
Expected<bool> VerifyPassword(std::string_view entry, std::string_view password);

// Adds or replaces the passwd line of device `id` with a hash of `token`.
Expected<void> AddDeviceCredential(const std::filesystem::path& data_dir, std::string_view id,
                                   std::string_view token);
// Removes the device's line; Ok if it had none.
Expected<void> RemoveDeviceCredential(const std::filesystem::path& data_dir, std::string_view id);
// Whether passwd has a line for `username`.
Expected<bool> HasCredential(const std::filesystem::path& data_dir, std::string_view username);

// The bridge's credential: read if bridge.credential exists (and its passwd
// line is ensured), otherwise generated (a random 32-byte password, hex) and
// written, with its passwd line.
Expected<Credential> EnsureBridgeCredential(const std::filesystem::path& data_dir);
// kNotFound if it was never generated.
Expected<Credential> ReadBridgeCredential(const std::filesystem::path& data_dir);

struct BrokerConfigOptions {
  int port = kDefaultPort;
  std::string bind_address = "127.0.0.1";
  bool persistence = false;  // true: retained messages survive restarts (stored in BrokerFiles::dir)
  // Mosquitto's `user` option: the account it switches to when started as
  // root (Mosquitto's default: "mosquitto", which must then be able to read
  // passwd and acl). Unset: the option is not written.
  std::optional<std::string> run_as_user;
  std::optional<std::filesystem::path> log_file;  // unset: stderr
};

// The texts of the two generated files (pure).
std::string AclText();
std::string ConfigText(const BrokerFiles& files, const BrokerConfigOptions& options);

// Writes mosquitto.conf and acl, ensures the bridge credential (and so passwd)
// exists, keeps every device line already in passwd. kInvalidArgument for a
// port outside 1..65535 or an empty bind address.
Expected<BrokerFiles> WriteBrokerConfig(const std::filesystem::path& data_dir,
                                        const BrokerConfigOptions& options);

}  // namespace edgefleet::broker
