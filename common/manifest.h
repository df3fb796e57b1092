// The OTA update manifest (SPEC section 4) and its signature.
//
// What it is for: the server answers GET /api/updates/check with a manifest
// and an Ed25519 signature over the manifest's canonical bytes; the device
// rebuilds the canonical bytes from the manifest it received and verifies the
// signature with its trusted public key before downloading anything. Both
// sides call CanonicalManifestBytes, so they agree on every byte.
//
// The manifest holds exactly eight fields (the seeds' client builds its
// object from them and fails on any other key). Canonical bytes
// (docs/ota.md has the rules and a worked example):
//   - one JSON object with exactly those eight keys, sorted by key (byte
//     order), no whitespace anywhere;
//   - integers (version, size_bytes, min_device_ram_mb, rollout_percentage)
//     as plain decimal integers: no sign for zero, no leading zeros, no
//     exponent, no fraction. rollout_percentage is an integer 0..100;
//   - strings as JSON strings, UTF-8 kept as is, with '"', '\\' and control
//     characters escaped (\b \f \n \r \t, otherwise \u00XX lowercase).
// This is what Python's json.dumps(m, sort_keys=True, separators=(",", ":"),
// ensure_ascii=False) writes for the same values.
//
// Threads: pure functions of their arguments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "common/error.h"

namespace edgefleet::common {

struct Manifest {
  std::string model_id;              // non-empty
  std::int64_t version = 0;          // the model version, >= 1
  std::string url;                   // absolute URL of the artifact, non-empty
  std::string sha256;                // 64 lowercase hex digits of the artifact
  std::int64_t size_bytes = 0;       // >= 1
  std::int64_t min_device_ram_mb = 0;  // >= 0
  std::string min_firmware_version;  // may be empty (no constraint)
  std::int64_t rollout_percentage = 0;  // 0..100

  friend bool operator==(const Manifest&, const Manifest&) = default;
};

// Ok, or kInvalidArgument naming the first field out of its range above, or a
// string that is not valid UTF-8 or is longer than 4096 bytes.
Expected<void> ValidateManifest(const Manifest& manifest);

// The canonical JSON bytes of a valid manifest (the rules above). The same
// text is the manifest's JSON representation in the API.
Expected<std::string> CanonicalManifestBytes(const Manifest& manifest);

// Parses a manifest object (any whitespace and key order): exactly the eight
// keys, integers as JSON integers, then ValidateManifest. kInvalidArgument on
// anything else.
Expected<Manifest> ParseManifest(std::string_view json);

// The base64 Ed25519 signature of CanonicalManifestBytes(manifest).
Expected<std::string> SignManifest(const Ed25519PrivateKey& key, const Manifest& manifest);

// Ok if `signature_base64` is key's signature of the manifest's canonical
// bytes; kUnauthenticated if not; kInvalidArgument if the manifest is invalid
// or the signature is not base64 of 64 bytes.
Expected<void> VerifyManifest(const Ed25519PublicKey& key, const Manifest& manifest,
                              std::string_view signature_base64);

}  // namespace edgefleet::common
