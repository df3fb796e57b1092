// Hashes, signatures and encodings that agent and server share (OpenSSL 3).
//
// What it is for: model artifacts are identified by their SHA-256 and signed
// with Ed25519 (SPEC sections 4 and 6); device and admin tokens are stored as
// SHA-256 hashes; signatures travel as base64 in JSON. This header is the one
// adapter over OpenSSL: nothing else in the project includes an OpenSSL
// header, and OpenSSL's error queue is drained into the returned Error.
//
// Formats:
//   - SHA-256 and key bytes in text are lowercase hex (64 characters for a
//     digest).
//   - Base64 is RFC 4648 with padding and no line breaks; decoding is strict
//     (length a multiple of 4, '=' only as the last one or two characters, no
//     whitespace).
//   - Key files are PEM: PKCS#8 "PRIVATE KEY" (unencrypted) and
//     SubjectPublicKeyInfo "PUBLIC KEY", the forms `openssl genpkey -algorithm
//     ed25519` and `openssl pkey -pubout` write and read. The private key file
//     is written atomically with mode 0600, the public key with 0644.
//   - Ed25519 is pure Ed25519 (RFC 8032), no pre-hash: signatures are 64 bytes
//     and deterministic.
//
// Ownership and threads: keys are values. An Ed25519PrivateKey owns its 32-byte
// seed, wipes it when destroyed, and is move-only so that copies of it do not
// spread. All functions are reentrant and may be called from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace edgefleet::common {

inline constexpr std::size_t kSha256Bytes = 32;

// Bytes of a std::string_view, for the functions below that take bytes.
inline std::span<const std::uint8_t> AsBytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// ---- hex and base64 -------------------------------------------------------

std::string HexEncode(std::span<const std::uint8_t> bytes);
// Upper- or lowercase; kInvalidArgument on an odd length or a non-hex digit.
Expected<std::vector<std::uint8_t>> HexDecode(std::string_view hex);
// True for exactly 64 lowercase hex digits, the form Sha256Hex returns.
bool IsSha256Hex(std::string_view text);

// Equality in time that depends only on the lengths (CRYPTO_memcmp), for
// comparing secrets and their hashes.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

Expected<std::string> Base64Encode(std::span<const std::uint8_t> bytes);
Expected<std::vector<std::uint8_t>> Base64Decode(std::string_view text);

// ---- SHA-256 ----------------------------------------------------------------

Expected<std::string> Sha256Hex(std::span<const std::uint8_t> bytes);
inline Expected<std::string> Sha256Hex(std::string_view text) { return Sha256Hex(AsBytes(text)); }
// Streams the file in 64 KiB reads: memory use does not grow with its size.
Expected<std::string> Sha256FileHex(const std::filesystem::path& path);

// ---- Ed25519 ----------------------------------------------------------------

inline constexpr std::size_t kEd25519KeyBytes = 32;
inline constexpr std::size_t kEd25519SignatureBytes = 64;
using Ed25519Signature = std::array<std::uint8_t, kEd25519SignatureBytes>;

class Ed25519PublicKey {
 public:
  // kInvalidArgument unless exactly 32 bytes that OpenSSL accepts as a key.
  static Expected<Ed25519PublicKey> FromBytes(std::span<const std::uint8_t> bytes);

  const std::array<std::uint8_t, kEd25519KeyBytes>& bytes() const { return bytes_; }
  std::string Hex() const { return HexEncode(bytes_); }

  friend bool operator==(const Ed25519PublicKey&, const Ed25519PublicKey&) = default;

 private:
  Ed25519PublicKey() = default;
  std::array<std::uint8_t, kEd25519KeyBytes> bytes_{};
};

class Ed25519PrivateKey {
 public:
  // A new key from the operating system's randomness (OpenSSL's DRBG).
  static Expected<Ed25519PrivateKey> Generate();
  // The key whose RFC 8032 secret (seed) is these 32 bytes; for test vectors
  // and for keys held elsewhere.
  static Expected<Ed25519PrivateKey> FromSeed(std::span<const std::uint8_t> seed);

  Ed25519PrivateKey(Ed25519PrivateKey&& other) noexcept;
  Ed25519PrivateKey& operator=(Ed25519PrivateKey&& other) noexcept;
  Ed25519PrivateKey(const Ed25519PrivateKey&) = delete;
  Ed25519PrivateKey& operator=(const Ed25519PrivateKey&) = delete;
  ~Ed25519PrivateKey();

  const Ed25519PublicKey& public_key() const { return public_key_; }
  // The secret seed. Handle with care: it is the whole key.
  std::span<const std::uint8_t, kEd25519KeyBytes> seed() const { return seed_; }

 private:
  Ed25519PrivateKey(const std::array<std::uint8_t, kEd25519KeyBytes>& seed,
                    const Ed25519PublicKey& public_key);
  std::array<std::uint8_t, kEd25519KeyBytes> seed_{};
  Ed25519PublicKey public_key_;
};

Expected<Ed25519Signature> Sign(const Ed25519PrivateKey& key, std::span<const std::uint8_t> message);
// Ok if `signature` is key's signature of `message`; kUnauthenticated if it is
// not; kInvalidArgument if it is not 64 bytes long.
Expected<void> Verify(const Ed25519PublicKey& key, std::span<const std::uint8_t> message,
                      std::span<const std::uint8_t> signature);

// PEM text of a key, and back. Reading checks that the key is Ed25519
// (kInvalidArgument otherwise, including for any other PEM or garbage).
Expected<std::string> PrivateKeyToPem(const Ed25519PrivateKey& key);
Expected<std::string> PublicKeyToPem(const Ed25519PublicKey& key);
Expected<Ed25519PrivateKey> PrivateKeyFromPem(std::string_view pem);
Expected<Ed25519PublicKey> PublicKeyFromPem(std::string_view pem);

// PEM files: written atomically (common/file.h), private 0600, public 0644.
Expected<void> WritePrivateKeyPem(const Ed25519PrivateKey& key, const std::filesystem::path& path);
Expected<void> WritePublicKeyPem(const Ed25519PublicKey& key, const std::filesystem::path& path);
Expected<Ed25519PrivateKey> ReadPrivateKeyPem(const std::filesystem::path& path);
Expected<Ed25519PublicKey> ReadPublicKeyPem(const std::filesystem::path& path);

// ---- PBKDF2 and randomness (broker password files, server/broker/) --------------

// PBKDF2-HMAC-SHA512 (RFC 8018) of `password` with `salt`: `out_bytes` bytes
// (1..1024). kInvalidArgument for iterations < 1 or a bad length. This is the
// hash of Mosquitto 2.0's "$7$" password file entries.
Expected<std::vector<std::uint8_t>> Pbkdf2HmacSha512(std::string_view password,
                                                      std::span<const std::uint8_t> salt,
                                                      int iterations, std::size_t out_bytes);

// `count` (0..4096) bytes from OpenSSL's DRBG, for salts and secrets.
Expected<std::vector<std::uint8_t>> SecureRandomBytes(std::size_t count);

}  // namespace edgefleet::common
