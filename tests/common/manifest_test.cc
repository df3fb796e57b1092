#include "common/manifest.h"

#include <gtest/gtest.h>

#include <string>

namespace edgefleet::common {
namespace {

Manifest Example() {
  Manifest m;
  m.model_id = "ceiling-fan-ae";
  m.version = 7;
  m.url = "https://fleet.example.com/model/download?version=7";
  m.sha256 = Sha256Hex(std::string_view("artifact")).value();
  m.size_bytes = 12345;
  m.min_device_ram_mb = 64;
  m.min_firmware_version = "1.2.0";
  m.rollout_percentage = 10;
  return m;
}

// The first test vector of docs/ota.md; Python's
// json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
// writes the same bytes.
constexpr const char* kExampleCanonical =
    R"({"min_device_ram_mb":64,"min_firmware_version":"1.2.0","model_id":"ceiling-fan-ae",)"
    R"("rollout_percentage":10,"sha256":"c7c5c1d70c5dec4416ab6158afd0b223ef40c29b1dc1f97ed9428b94d4cadb1c",)"
    R"("size_bytes":12345,"url":"https://fleet.example.com/model/download?version=7","version":7})";

// The second test vector of docs/ota.md: kExampleCanonical signed with RFC
// 8032 test 1's key, base64. `openssl pkeyutl -sign -rawin` gives the same.
constexpr const char* kPinnedSignature =
    "0+fWgGVJfc+OOl/Zw6H0MD6MuYp67TlaUZPQlp2BZXWsKoEkFq1dpicvhWPDFbGzVHN9M+mjWvEQqgb/kWuSDA==";

// RFC 8032 test 1's key: a fixed signer for pinned signatures.
Ed25519PrivateKey FixedKey() {
  return Ed25519PrivateKey::FromSeed(
             HexDecode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").value())
      .value();
}

TEST(CanonicalManifest, SortedKeysNoWhitespaceIntegers) {
  EXPECT_EQ(CanonicalManifestBytes(Example()).value(), kExampleCanonical);
}

TEST(CanonicalManifest, EscapesStringsAsPythonJsonDumpsDoes) {
  Manifest m = Example();
  m.model_id = "fan \"quoted\" \\ tab\t nl\n bell\x07 \xc3\xa9 \xe9\xa2\xa8 \x7f";
  m.min_firmware_version = "";
  m.rollout_percentage = 0;
  EXPECT_EQ(CanonicalManifestBytes(m).value(),
            "{\"min_device_ram_mb\":64,\"min_firmware_version\":\"\",\"model_id\":"
            "\"fan \\\"quoted\\\" \\\\ tab\\t nl\\n bell\\u0007 \xc3\xa9 \xe9\xa2\xa8 \x7f\","
            "\"rollout_percentage\":0,\"sha256\":"
            "\"c7c5c1d70c5dec4416ab6158afd0b223ef40c29b1dc1f97ed9428b94d4cadb1c\",\"size_bytes\":12345,"
            "\"url\":\"https://fleet.example.com/model/download?version=7\",\"version\":7}");
}

TEST(CanonicalManifest, RejectsOutOfRangeFields) {
  auto expect_invalid = [](Manifest m, const char* field) {
    const auto bytes = CanonicalManifestBytes(m);
    ASSERT_FALSE(bytes.ok()) << field;
    EXPECT_EQ(bytes.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(bytes.error().message().find(field), std::string::npos) << bytes.error().message();
  };
  Manifest m = Example();
  m.rollout_percentage = 101;
  expect_invalid(m, "rollout_percentage");
  m = Example();
  m.rollout_percentage = -1;
  expect_invalid(m, "rollout_percentage");
  m = Example();
  m.version = 0;
  expect_invalid(m, "version");
  m = Example();
  m.size_bytes = 0;
  expect_invalid(m, "size_bytes");
  m = Example();
  m.min_device_ram_mb = -5;
  expect_invalid(m, "min_device_ram_mb");
  m = Example();
  m.sha256 = std::string(64, 'A');
  expect_invalid(m, "sha256");
  m = Example();
  m.model_id.clear();
  expect_invalid(m, "model_id");
  m = Example();
  m.url = "https://x/\xff";
  expect_invalid(m, "url");  // not UTF-8
  m = Example();
  m.min_firmware_version = std::string(5000, 'x');
  expect_invalid(m, "min_firmware_version");
}

TEST(ParseManifest, ReadsWhatCanonicalWritesAndAnyKeyOrder) {
  EXPECT_EQ(ParseManifest(kExampleCanonical).value(), Example());
  const char* spaced = R"({ "version": 7, "url": "https://fleet.example.com/model/download?version=7",
    "model_id": "ceiling-fan-ae", "size_bytes": 12345, "rollout_percentage": 10,
    "sha256": "c7c5c1d70c5dec4416ab6158afd0b223ef40c29b1dc1f97ed9428b94d4cadb1c",
    "min_device_ram_mb": 64, "min_firmware_version": "1.2.0" })";
  EXPECT_EQ(ParseManifest(spaced).value(), Example());
}

TEST(ParseManifest, RejectsExtraMissingAndMistypedFields) {
  const std::string good = kExampleCanonical;
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  const std::string cases[] = {
      replaced("\"version\":7}", "\"version\":7,\"extra\":1}"),        // unknown key
      replaced(",\"version\":7}", "}"),                                  // missing key
      replaced("\"version\":7", "\"version\":\"7\""),                    // string, not integer
      replaced("\"version\":7", "\"version\":7.0"),                      // float, not integer
      replaced("\"rollout_percentage\":10", "\"rollout_percentage\":10.5"),
      replaced("\"size_bytes\":12345", "\"size_bytes\":18446744073709551615"),  // above int64
      replaced("\"size_bytes\":12345", "\"size_bytes\":-1"),
      replaced("\"model_id\":\"ceiling-fan-ae\"", "\"model_id\":null"),
      "[]",
      "{",
      "",
      "not json",
      std::string(70'000, ' '),
  };
  for (const auto& text : cases) {
    const auto parsed = ParseManifest(text);
    EXPECT_FALSE(parsed.ok()) << text.substr(0, 200);
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.error().code(), ErrorCode::kInvalidArgument);
    }
  }
}

TEST(ManifestSignature, FixedKeyGivesAPinnedSignatureThatVerifies) {
  const auto key = FixedKey();
  const std::string signature = SignManifest(key, Example()).value();
  // Ed25519 is deterministic: this is the second test vector of docs/ota.md.
  EXPECT_EQ(signature, kPinnedSignature);
  EXPECT_TRUE(VerifyManifest(key.public_key(), Example(), signature).ok());
}

TEST(ManifestSignature, AnyChangedFieldFailsVerification) {
  const auto key = FixedKey();
  const std::string signature = SignManifest(key, Example()).value();
  std::vector<Manifest> changed(8, Example());
  changed[0].model_id += "x";
  changed[1].version += 1;
  changed[2].url += "&x";
  changed[3].sha256[0] = changed[3].sha256[0] == 'a' ? 'b' : 'a';
  changed[4].size_bytes += 1;
  changed[5].min_device_ram_mb += 1;
  changed[6].min_firmware_version = "1.2.1";
  changed[7].rollout_percentage = 100;
  for (std::size_t i = 0; i < changed.size(); ++i) {
    const auto verified = VerifyManifest(key.public_key(), changed[i], signature);
    ASSERT_FALSE(verified.ok()) << "field " << i;
    EXPECT_EQ(verified.error().code(), ErrorCode::kUnauthenticated) << "field " << i;
  }
}

TEST(ManifestSignature, TamperedSignatureOrWrongKeyFails) {
  const auto key = FixedKey();
  const std::string signature = SignManifest(key, Example()).value();
  auto raw = Base64Decode(signature).value();
  raw[10] ^= 0x01;
  const auto tampered = Base64Encode(raw).value();
  EXPECT_EQ(VerifyManifest(key.public_key(), Example(), tampered).error().code(),
            ErrorCode::kUnauthenticated);
  const auto other = Ed25519PrivateKey::Generate().value();
  EXPECT_EQ(VerifyManifest(other.public_key(), Example(), signature).error().code(),
            ErrorCode::kUnauthenticated);
  EXPECT_EQ(VerifyManifest(key.public_key(), Example(), "not base64!").error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(VerifyManifest(key.public_key(), Example(), "AAAA").error().code(),
            ErrorCode::kInvalidArgument);  // 3 bytes, not 64
  Manifest invalid = Example();
  invalid.rollout_percentage = 200;
  EXPECT_EQ(VerifyManifest(key.public_key(), invalid, signature).error().code(),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgefleet::common
