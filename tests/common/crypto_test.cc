#include "common/crypto.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/file.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::common {
namespace {

namespace fs = std::filesystem;

std::vector<std::uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::vector<std::uint8_t> Hex(std::string_view hex) { return HexDecode(hex).value(); }

// ---- hex, base64 ----------------------------------------------------------------------

TEST(Hex, RoundTripsAndRejectsBadDigits) {
  EXPECT_EQ(HexEncode(Bytes("\x01\xab\xff")), "01abff");
  EXPECT_EQ(HexDecode("01ABff").value(), Bytes("\x01\xab\xff"));
  EXPECT_TRUE(HexDecode("").value().empty());
  EXPECT_EQ(HexDecode("abc").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(HexDecode("zz").error().code(), ErrorCode::kInvalidArgument);
}

TEST(Hex, IsSha256HexWantsExactly64LowercaseDigits) {
  EXPECT_TRUE(IsSha256Hex(std::string(64, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'A')));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'g')));
}

TEST(ConstantTimeEquals, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},         {"f", "Zg=="},        {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(Bytes(plain)).value(), encoded) << plain;
    EXPECT_EQ(Base64Decode(encoded).value(), Bytes(plain)) << encoded;
  }
}

TEST(Base64, RoundTripsEveryLengthAndByte) {
  std::vector<std::uint8_t> data;
  for (int n = 0; n < 300; ++n) {
    const auto encoded = Base64Encode(data).value();
    EXPECT_EQ(encoded.size() % 4, 0u);
    EXPECT_EQ(Base64Decode(encoded).value(), data) << n;
    data.push_back(static_cast<std::uint8_t>(n * 37 + 11));
  }
}

TEST(Base64, RejectsNonCanonicalText) {
  for (const char* bad : {"Zg=", "Zg", "Z===", "Zg==Zg==", "Zm9v\n", " Zm9v", "Zm9v ", "Zm-v", "Zm_v",
                          "=Zm9", "Zm=v", "Zg=a"}) {
    const auto decoded = Base64Decode(bad);
    EXPECT_FALSE(decoded.ok()) << "'" << bad << "'";
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.error().code(), ErrorCode::kInvalidArgument);
    }
  }
}

// ---- SHA-256 ----------------------------------------------------------------------------

TEST(Sha256, NistVectors) {
  EXPECT_EQ(Sha256Hex(std::string_view("")).value(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex(std::string_view("abc")).value(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(std::string_view("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).value(),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, FileIsStreamedAndMatchesTheBufferHash) {
  TempDir dir;
  // Larger than the 64 KiB read buffer and not a multiple of it.
  std::string content;
  for (int i = 0; i < 200'001; ++i) content.push_back(static_cast<char>('a' + i % 26));
  const fs::path path = dir.path() / "artifact.bin";
  ASSERT_TRUE(WriteFileAtomically(path, content, fs::perms::owner_read | fs::perms::owner_write).ok());
  EXPECT_EQ(Sha256FileHex(path).value(), Sha256Hex(content).value());
  // One million 'a' (the NIST long vector).
  ASSERT_TRUE(WriteFileAtomically(path, std::string(1'000'000, 'a'),
                                  fs::perms::owner_read | fs::perms::owner_write)
                  .ok());
  EXPECT_EQ(Sha256FileHex(path).value(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(Sha256FileHex(dir.path() / "absent").error().code(), ErrorCode::kNotFound);
}

// ---- Ed25519 ----------------------------------------------------------------------------

// RFC 8032 section 7.1, tests 1 and 2.
constexpr const char* kSeed1 = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr const char* kPublic1 = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr const char* kSignature1 =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
    "d25bf5f0595bbe24655141438e7a100b";
constexpr const char* kSeed2 = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
constexpr const char* kPublic2 = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
constexpr const char* kSignature2 =
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c"
    "387b2eaeb4302aeeb00d291612bb0c00";

TEST(Ed25519, Rfc8032Vectors) {
  const auto key1 = Ed25519PrivateKey::FromSeed(Hex(kSeed1)).value();
  EXPECT_EQ(key1.public_key().Hex(), kPublic1);
  const auto sig1 = Sign(key1, {}).value();
  EXPECT_EQ(HexEncode(sig1), kSignature1);
  EXPECT_TRUE(Verify(key1.public_key(), {}, sig1).ok());

  const auto key2 = Ed25519PrivateKey::FromSeed(Hex(kSeed2)).value();
  EXPECT_EQ(key2.public_key().Hex(), kPublic2);
  const std::vector<std::uint8_t> message = {0x72};
  const auto sig2 = Sign(key2, message).value();
  EXPECT_EQ(HexEncode(sig2), kSignature2);
  EXPECT_TRUE(Verify(Ed25519PublicKey::FromBytes(Hex(kPublic2)).value(), message, sig2).ok());
}

TEST(Ed25519, TamperedMessageSignatureOrKeyFails) {
  const auto key = Ed25519PrivateKey::Generate().value();
  const auto other = Ed25519PrivateKey::Generate().value();
  EXPECT_NE(key.public_key(), other.public_key());
  const auto message = Bytes("model v7");
  const auto signature = Sign(key, message).value();
  ASSERT_TRUE(Verify(key.public_key(), message, signature).ok());

  auto changed = message;
  changed.back() ^= 1;
  EXPECT_EQ(Verify(key.public_key(), changed, signature).error().code(), ErrorCode::kUnauthenticated);
  for (std::size_t i = 0; i < signature.size(); i += 7) {
    auto tampered = signature;
    tampered[i] ^= 0x40;
    EXPECT_EQ(Verify(key.public_key(), message, tampered).error().code(), ErrorCode::kUnauthenticated)
        << "byte " << i;
  }
  EXPECT_EQ(Verify(other.public_key(), message, signature).error().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(Verify(key.public_key(), message, std::span(signature).first(63)).error().code(),
            ErrorCode::kInvalidArgument);
}

TEST(Ed25519, RejectsKeysOfTheWrongLength) {
  EXPECT_EQ(Ed25519PrivateKey::FromSeed(Bytes("short")).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Ed25519PublicKey::FromBytes(std::vector<std::uint8_t>(33)).error().code(),
            ErrorCode::kInvalidArgument);
}

TEST(Ed25519, MovedFromKeyIsWiped) {
  auto key = Ed25519PrivateKey::FromSeed(Hex(kSeed1)).value();
  Ed25519PrivateKey moved = std::move(key);
  EXPECT_EQ(HexEncode(moved.seed()), kSeed1);
  EXPECT_EQ(HexEncode(key.seed()), std::string(64, '0'));  // NOLINT(bugprone-use-after-move)
}

TEST(Pem, RoundTripsKeysThroughFilesWithPrivateModes) {
  TempDir dir;
  const auto key = Ed25519PrivateKey::FromSeed(Hex(kSeed1)).value();
  const fs::path priv = dir.path() / "signing.pem";
  const fs::path pub = dir.path() / "trusted.pem";
  ASSERT_TRUE(WritePrivateKeyPem(key, priv).ok());
  ASSERT_TRUE(WritePublicKeyPem(key.public_key(), pub).ok());
  struct stat st {};
  ASSERT_EQ(::stat(priv.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(pub.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  const std::string text = ReadFile(priv, 4096).value();
  EXPECT_EQ(text.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u) << text;
  EXPECT_EQ(ReadFile(pub, 4096).value().rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);

  const auto back = ReadPrivateKeyPem(priv).value();
  EXPECT_EQ(HexEncode(back.seed()), kSeed1);
  EXPECT_EQ(ReadPublicKeyPem(pub).value(), key.public_key());
}

TEST(Pem, RejectsGarbageOtherKeyTypesAndMissingFiles) {
  TempDir dir;
  EXPECT_EQ(PrivateKeyFromPem("not a key").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(PublicKeyFromPem("").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(PublicKeyFromPem(std::string(100'000, 'A')).error().code(), ErrorCode::kInvalidArgument);
  // A public key where a private one is expected, and the reverse.
  const auto key = Ed25519PrivateKey::Generate().value();
  EXPECT_FALSE(PrivateKeyFromPem(PublicKeyToPem(key.public_key()).value()).ok());
  EXPECT_FALSE(PublicKeyFromPem(PrivateKeyToPem(key).value()).ok());
  // A P-256 key (openssl ecparam -name prime256v1 -genkey | openssl pkey).
  constexpr const char* kP256 =
      "-----BEGIN PRIVATE KEY-----\n"
      "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQggsRuCalGr1+BvIyh\n"
      "m4gnQvu6+sBNyJlVM58cjGaMQ+ehRANCAAQsS3eqMqkQm1RHL3CdwN65WvotpW2R\n"
      "7ygQ+G58+Q7fT0sf21S3izwAt9cgqqihGd5A5ao52LbrASi8gnZLLED5\n"
      "-----END PRIVATE KEY-----\n";
  const auto p256 = PrivateKeyFromPem(kP256);
  ASSERT_FALSE(p256.ok());
  EXPECT_EQ(p256.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(p256.error().message().find("not an Ed25519 key"), std::string::npos)
      << p256.error().message();  // it parsed, and was refused for its type
  EXPECT_EQ(ReadPrivateKeyPem(dir.path() / "absent.pem").error().code(), ErrorCode::kNotFound);
}

// The keys and signatures are the standard forms: the openssl command reads
// our PEM files and verifies our signature.
TEST(Pem, OpensslCommandVerifiesOurSignature) {
  if (std::system("openssl version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl command";
  TempDir dir;
  const auto key = Ed25519PrivateKey::Generate().value();
  const std::string message = "{\"model_id\":\"fan\",\"version\":3}";
  ASSERT_TRUE(WritePrivateKeyPem(key, dir.path() / "key.pem").ok());
  ASSERT_TRUE(WritePublicKeyPem(key.public_key(), dir.path() / "pub.pem").ok());
  const auto signature = Sign(key, AsBytes(message)).value();
  const auto rw = fs::perms::owner_read | fs::perms::owner_write;
  ASSERT_TRUE(WriteFileAtomically(dir.path() / "msg", message, rw).ok());
  ASSERT_TRUE(WriteFileAtomically(dir.path() / "sig", signature, rw).ok());
  const std::string d = dir.path().string();
  const std::string verify = "openssl pkeyutl -verify -pubin -inkey " + d + "/pub.pem -rawin -in " + d +
                             "/msg -sigfile " + d + "/sig >/dev/null 2>&1";
  EXPECT_EQ(std::system(verify.c_str()), 0);
  // And openssl derives the same public key from our private key file.
  const std::string derive =
      "openssl pkey -in " + d + "/key.pem -pubout -out " + d + "/derived.pem 2>/dev/null";
  ASSERT_EQ(std::system(derive.c_str()), 0);
  EXPECT_EQ(ReadPublicKeyPem(dir.path() / "derived.pem").value(), key.public_key());
}

// PBKDF2-HMAC-SHA512 known answers (the same as Python's hashlib.pbkdf2_hmac).
TEST(Pbkdf2, KnownAnswers) {
  auto one = Pbkdf2HmacSha512("password", AsBytes("salt"), 1, 64);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(HexEncode(*one),
            "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252"
            "c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce");
  auto many = Pbkdf2HmacSha512("password", AsBytes("salt"), 4096, 32);
  ASSERT_TRUE(many.ok());
  EXPECT_EQ(HexEncode(*many), "d197b1b33db0143e018b12f3d1d1479e6cdebdcc97c5c0f87f6902e072f457b5");
  EXPECT_EQ(Pbkdf2HmacSha512("p", AsBytes("s"), 0, 64).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Pbkdf2HmacSha512("p", AsBytes("s"), 1, 0).error().code(), ErrorCode::kInvalidArgument);
}

TEST(SecureRandomBytes, LengthsAndVariety) {
  auto a = SecureRandomBytes(32);
  auto b = SecureRandomBytes(32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(SecureRandomBytes(0).value().empty());
  EXPECT_FALSE(SecureRandomBytes(4097).ok());
}

}  // namespace
}  // namespace edgefleet::common
