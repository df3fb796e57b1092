#include "common/crypto.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <utility>

#include "common/file.h"

namespace edgefleet::common {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

// Key files are tiny; anything larger is not one of ours.
constexpr std::size_t kMaxPemBytes = 64 * 1024;

// Drains OpenSSL's (thread-local) error queue into one message, so that a
// failure here never leaks into the next caller's error.
Error OpenSslError(ErrorCode code, std::string_view what) {
  std::string message(what);
  bool first = true;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    message += first ? ": " : "; ";
    message += buf;
    first = false;
  }
  return Error(code, std::move(message));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The sole caller-visible key object: built from raw bytes each time it is
// needed, which costs microseconds and keeps the C++ types plain values.
Expected<PkeyPtr> PrivatePkey(std::span<const std::uint8_t, kEd25519KeyBytes> seed) {
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!pkey) return OpenSslError(ErrorCode::kInvalidArgument, "not an Ed25519 private key");
  return pkey;
}

Expected<PkeyPtr> PublicPkey(const Ed25519PublicKey& key) {
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.bytes().data(),
                                           key.bytes().size()));
  if (!pkey) return OpenSslError(ErrorCode::kInvalidArgument, "not an Ed25519 public key");
  return pkey;
}

Expected<std::array<std::uint8_t, kEd25519KeyBytes>> RawPublic(EVP_PKEY* pkey) {
  std::array<std::uint8_t, kEd25519KeyBytes> out{};
  std::size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(pkey, out.data(), &len) != 1 || len != out.size()) {
    return OpenSslError(ErrorCode::kInternal, "cannot read an Ed25519 public key");
  }
  return out;
}

Expected<std::string> BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (len < 0 || (len > 0 && data == nullptr)) {
    return OpenSslError(ErrorCode::kInternal, "cannot read a memory BIO");
  }
  return std::string(data, static_cast<std::size_t>(len));
}

Expected<BioPtr> ReadOnlyBio(std::string_view text) {
  if (text.size() > kMaxPemBytes) {
    return Error(ErrorCode::kInvalidArgument, "PEM text is larger than 64 KiB");
  }
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) return OpenSslError(ErrorCode::kInternal, "cannot allocate a BIO");
  return bio;
}

// Never prompt on a terminal for a passphrase: encrypted keys are refused.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return 0; }

}  // namespace

// ---- hex and base64 ---------------------------------------------------------

std::string HexEncode(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

Expected<std::vector<std::uint8_t>> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return Error(ErrorCode::kInvalidArgument, "hex text has an odd number of digits");
  }
  std::vector<std::uint8_t> out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = HexValue(hex[i]);
    const int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return Error(ErrorCode::kInvalidArgument,
                   "hex text has a non-hex character at offset " + std::to_string(hi < 0 ? i : i + 1));
    }
    out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
  }
  return out;
}

bool IsSha256Hex(std::string_view text) {
  if (text.size() != 2 * kSha256Bytes) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Expected<std::string> Base64Encode(std::span<const std::uint8_t> bytes) {
  // EVP_EncodeBlock takes an int length and writes 4 characters per 3 bytes.
  if (bytes.size() > static_cast<std::size_t>(INT_MAX / 4 * 3)) {
    return Error(ErrorCode::kResourceExhausted, "input too large to base64-encode");
  }
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // + the NUL it writes
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  if (n < 0) return OpenSslError(ErrorCode::kInternal, "base64 encoding failed");
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Expected<std::vector<std::uint8_t>> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return Error(ErrorCode::kInvalidArgument, "base64 text length is not a multiple of 4");
  }
  if (text.size() > static_cast<std::size_t>(INT_MAX)) {
    return Error(ErrorCode::kResourceExhausted, "base64 text too large");
  }
  // EVP_DecodeBlock skips leading and trailing whitespace and counts padding
  // as zero bytes; check the alphabet and the padding here so that only the
  // canonical form of each byte string is accepted.
  std::size_t padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (c == '=') {
      if (i + 2 < text.size()) {
        return Error(ErrorCode::kInvalidArgument, "base64 padding before the end");
      }
      ++padding;
    } else if (!alphabet || padding > 0) {
      return Error(ErrorCode::kInvalidArgument,
                   "base64 text has an invalid character at offset " + std::to_string(i));
    }
  }
  std::vector<std::uint8_t> out(text.size() / 4 * 3);
  if (text.empty()) return out;
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0 || static_cast<std::size_t>(n) != out.size()) {
    ERR_clear_error();
    return Error(ErrorCode::kInvalidArgument, "invalid base64 text");
  }
  out.resize(out.size() - padding);
  return out;
}

// ---- SHA-256 ------------------------------------------------------------------

namespace {

Expected<MdCtxPtr> Sha256Context() {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot start SHA-256");
  }
  return ctx;
}

Expected<std::string> Sha256Final(EVP_MD_CTX* ctx) {
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, digest.data(), &len) != 1 || len != kSha256Bytes) {
    return OpenSslError(ErrorCode::kInternal, "cannot finish SHA-256");
  }
  return HexEncode(std::span<const std::uint8_t>(digest.data(), kSha256Bytes));
}

}  // namespace

Expected<std::string> Sha256Hex(std::span<const std::uint8_t> bytes) {
  EDGEFLEET_ASSIGN_OR_RETURN(MdCtxPtr ctx, Sha256Context());
  if (EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1) {
    return OpenSslError(ErrorCode::kInternal, "SHA-256 update failed");
  }
  return Sha256Final(ctx.get());
}

Expected<std::string> Sha256FileHex(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return Error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                 "cannot open " + path.string() + ": " + std::strerror(err));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  EDGEFLEET_ASSIGN_OR_RETURN(MdCtxPtr ctx, Sha256Context());
  std::vector<std::uint8_t> buffer(64 * 1024);
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(ErrorCode::kIo, "cannot read " + path.string() + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    if (EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(n)) != 1) {
      return OpenSslError(ErrorCode::kInternal, "SHA-256 update failed");
    }
  }
  return Sha256Final(ctx.get());
}

// ---- Ed25519 keys -----------------------------------------------------------

Expected<Ed25519PublicKey> Ed25519PublicKey::FromBytes(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != kEd25519KeyBytes) {
    return Error(ErrorCode::kInvalidArgument,
                 "an Ed25519 public key is 32 bytes, not " + std::to_string(bytes.size()));
  }
  Ed25519PublicKey key;
  std::memcpy(key.bytes_.data(), bytes.data(), kEd25519KeyBytes);
  EDGEFLEET_RETURN_IF_ERROR(PublicPkey(key));  // OpenSSL accepts it
  return key;
}

Ed25519PrivateKey::Ed25519PrivateKey(const std::array<std::uint8_t, kEd25519KeyBytes>& seed,
                                     const Ed25519PublicKey& public_key)
    : seed_(seed), public_key_(public_key) {}

Ed25519PrivateKey::Ed25519PrivateKey(Ed25519PrivateKey&& other) noexcept
    : seed_(other.seed_), public_key_(other.public_key_) {
  OPENSSL_cleanse(other.seed_.data(), other.seed_.size());
}

Ed25519PrivateKey& Ed25519PrivateKey::operator=(Ed25519PrivateKey&& other) noexcept {
  if (this != &other) {
    seed_ = other.seed_;
    public_key_ = other.public_key_;
    OPENSSL_cleanse(other.seed_.data(), other.seed_.size());
  }
  return *this;
}

Ed25519PrivateKey::~Ed25519PrivateKey() { OPENSSL_cleanse(seed_.data(), seed_.size()); }

namespace {

Expected<Ed25519PrivateKey> PrivateFromPkey(EVP_PKEY* pkey);

}  // namespace

Expected<Ed25519PrivateKey> Ed25519PrivateKey::FromSeed(std::span<const std::uint8_t> seed) {
  if (seed.size() != kEd25519KeyBytes) {
    return Error(ErrorCode::kInvalidArgument,
                 "an Ed25519 seed is 32 bytes, not " + std::to_string(seed.size()));
  }
  std::array<std::uint8_t, kEd25519KeyBytes> raw{};
  std::memcpy(raw.data(), seed.data(), raw.size());
  auto pkey = PrivatePkey(raw);
  if (!pkey.ok()) {
    OPENSSL_cleanse(raw.data(), raw.size());
    return std::move(pkey).error();
  }
  auto pub = RawPublic(pkey->get());
  if (!pub.ok()) {
    OPENSSL_cleanse(raw.data(), raw.size());
    return std::move(pub).error();
  }
  Ed25519PublicKey public_key = Ed25519PublicKey::FromBytes(*pub).value();
  Ed25519PrivateKey key(raw, public_key);
  OPENSSL_cleanse(raw.data(), raw.size());
  return key;
}

Expected<Ed25519PrivateKey> Ed25519PrivateKey::Generate() {
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!pkey) return OpenSslError(ErrorCode::kInternal, "cannot generate an Ed25519 key");
  return PrivateFromPkey(pkey.get());
}

namespace {

Expected<Ed25519PrivateKey> PrivateFromPkey(EVP_PKEY* pkey) {
  if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
    return Error(ErrorCode::kInvalidArgument, "the key is not an Ed25519 key");
  }
  std::array<std::uint8_t, kEd25519KeyBytes> seed{};
  std::size_t len = seed.size();
  if (EVP_PKEY_get_raw_private_key(pkey, seed.data(), &len) != 1 || len != seed.size()) {
    OPENSSL_cleanse(seed.data(), seed.size());
    return OpenSslError(ErrorCode::kInternal, "cannot read an Ed25519 private key");
  }
  auto key = Ed25519PrivateKey::FromSeed(seed);
  OPENSSL_cleanse(seed.data(), seed.size());
  return key;
}

}  // namespace

// ---- sign and verify --------------------------------------------------------

Expected<Ed25519Signature> Sign(const Ed25519PrivateKey& key, std::span<const std::uint8_t> message) {
  EDGEFLEET_ASSIGN_OR_RETURN(PkeyPtr pkey, PrivatePkey(key.seed()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot start an Ed25519 signature");
  }
  Ed25519Signature signature{};
  std::size_t len = signature.size();
  if (EVP_DigestSign(ctx.get(), signature.data(), &len, message.data(), message.size()) != 1 ||
      len != signature.size()) {
    return OpenSslError(ErrorCode::kInternal, "Ed25519 signing failed");
  }
  return signature;
}

Expected<void> Verify(const Ed25519PublicKey& key, std::span<const std::uint8_t> message,
                      std::span<const std::uint8_t> signature) {
  if (signature.size() != kEd25519SignatureBytes) {
    return Error(ErrorCode::kInvalidArgument,
                 "an Ed25519 signature is 64 bytes, not " + std::to_string(signature.size()));
  }
  EDGEFLEET_ASSIGN_OR_RETURN(PkeyPtr pkey, PublicPkey(key));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot start an Ed25519 verification");
  }
  const int rc =
      EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size());
  if (rc != 1) {
    // 0 is a wrong signature; a negative value a malformed one. Both fail closed.
    ERR_clear_error();
    return Error(ErrorCode::kUnauthenticated, "the Ed25519 signature does not verify");
  }
  return Ok();
}

// ---- PEM --------------------------------------------------------------------

Expected<std::string> PrivateKeyToPem(const Ed25519PrivateKey& key) {
  EDGEFLEET_ASSIGN_OR_RETURN(PkeyPtr pkey, PrivatePkey(key.seed()));
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot write a PEM private key");
  }
  return BioContents(bio.get());
}

Expected<std::string> PublicKeyToPem(const Ed25519PublicKey& key) {
  EDGEFLEET_ASSIGN_OR_RETURN(PkeyPtr pkey, PublicPkey(key));
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey.get()) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot write a PEM public key");
  }
  return BioContents(bio.get());
}

Expected<Ed25519PrivateKey> PrivateKeyFromPem(std::string_view pem) {
  EDGEFLEET_ASSIGN_OR_RETURN(BioPtr bio, ReadOnlyBio(pem));
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!pkey) return OpenSslError(ErrorCode::kInvalidArgument, "not a PEM private key");
  return PrivateFromPkey(pkey.get());
}

Expected<Ed25519PublicKey> PublicKeyFromPem(std::string_view pem) {
  EDGEFLEET_ASSIGN_OR_RETURN(BioPtr bio, ReadOnlyBio(pem));
  PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!pkey) return OpenSslError(ErrorCode::kInvalidArgument, "not a PEM public key");
  if (EVP_PKEY_get_id(pkey.get()) != EVP_PKEY_ED25519) {
    return Error(ErrorCode::kInvalidArgument, "the public key is not an Ed25519 key");
  }
  EDGEFLEET_ASSIGN_OR_RETURN(auto raw, RawPublic(pkey.get()));
  return Ed25519PublicKey::FromBytes(raw);
}

Expected<void> WritePrivateKeyPem(const Ed25519PrivateKey& key, const std::filesystem::path& path) {
  EDGEFLEET_ASSIGN_OR_RETURN(std::string pem, PrivateKeyToPem(key));
  auto written = WriteFileAtomically(
      path, pem, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  OPENSSL_cleanse(pem.data(), pem.size());
  return written;
}

Expected<void> WritePublicKeyPem(const Ed25519PublicKey& key, const std::filesystem::path& path) {
  EDGEFLEET_ASSIGN_OR_RETURN(std::string pem, PublicKeyToPem(key));
  using std::filesystem::perms;
  return WriteFileAtomically(path, pem,
                             perms::owner_read | perms::owner_write | perms::group_read |
                                 perms::others_read);
}

Expected<Ed25519PrivateKey> ReadPrivateKeyPem(const std::filesystem::path& path) {
  EDGEFLEET_ASSIGN_OR_RETURN(std::string pem, ReadFile(path, kMaxPemBytes));
  auto key = PrivateKeyFromPem(pem);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!key.ok()) return std::move(key).error().WithContext(path.string());
  return key;
}

Expected<Ed25519PublicKey> ReadPublicKeyPem(const std::filesystem::path& path) {
  EDGEFLEET_ASSIGN_OR_RETURN(std::string pem, ReadFile(path, kMaxPemBytes));
  auto key = PublicKeyFromPem(pem);
  if (!key.ok()) return std::move(key).error().WithContext(path.string());
  return key;
}

// ---- PBKDF2 and randomness ----------------------------------------------------------

Expected<std::vector<std::uint8_t>> Pbkdf2HmacSha512(std::string_view password,
                                                      std::span<const std::uint8_t> salt,
                                                      int iterations, std::size_t out_bytes) {
  if (iterations < 1) return Error(ErrorCode::kInvalidArgument, "PBKDF2 needs at least one iteration");
  if (out_bytes < 1 || out_bytes > 1024) return Error(ErrorCode::kInvalidArgument, "PBKDF2 output length out of range");
  if (password.size() > INT_MAX || salt.size() > INT_MAX) {
    return Error(ErrorCode::kInvalidArgument, "PBKDF2 input too long");
  }
  std::vector<std::uint8_t> out(out_bytes);
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                        static_cast<int>(salt.size()), iterations, EVP_sha512(),
                        static_cast<int>(out.size()), out.data()) != 1) {
    return OpenSslError(ErrorCode::kInternal, "PBKDF2-HMAC-SHA512 failed");
  }
  return out;
}

Expected<std::vector<std::uint8_t>> SecureRandomBytes(std::size_t count) {
  if (count > 4096) return Error(ErrorCode::kInvalidArgument, "too many random bytes asked for");
  std::vector<std::uint8_t> out(count);
  if (count > 0 && RAND_bytes(out.data(), static_cast<int>(count)) != 1) {
    return OpenSslError(ErrorCode::kInternal, "RAND_bytes failed");
  }
  return out;
}

}  // namespace edgefleet::common
