#include "common/manifest.h"

#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/text.h"

namespace edgefleet::common {
namespace {

constexpr std::size_t kMaxStringBytes = 4096;
constexpr std::size_t kMaxManifestJsonBytes = 64 * 1024;

Expected<void> CheckString(std::string_view field, const std::string& value, bool allow_empty) {
  if (!allow_empty && value.empty()) {
    return Error(ErrorCode::kInvalidArgument, "manifest field " + std::string(field) + " is empty");
  }
  if (value.size() > kMaxStringBytes) {
    return Error(ErrorCode::kInvalidArgument,
                 "manifest field " + std::string(field) + " is longer than 4096 bytes");
  }
  if (!IsValidUtf8(value)) {
    return Error(ErrorCode::kInvalidArgument,
                 "manifest field " + std::string(field) + " is not valid UTF-8");
  }
  return Ok();
}

Expected<void> CheckRange(std::string_view field, std::int64_t value, std::int64_t lo,
                          std::int64_t hi) {
  if (value < lo || value > hi) {
    return Error(ErrorCode::kInvalidArgument, "manifest field " + std::string(field) + " is " +
                                                  std::to_string(value) + ", outside [" +
                                                  std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return Ok();
}

constexpr std::int64_t kMaxInt = std::numeric_limits<std::int64_t>::max();

Expected<std::int64_t> IntegerField(const nlohmann::json& object, const char* key) {
  const auto& v = object.at(key);
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(kMaxInt)) {
      return Error(ErrorCode::kInvalidArgument, std::string("manifest field ") + key + " is too large");
    }
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<std::int64_t>();
  return Error(ErrorCode::kInvalidArgument, std::string("manifest field ") + key + " is not an integer");
}

Expected<std::string> StringField(const nlohmann::json& object, const char* key) {
  const auto& v = object.at(key);
  if (!v.is_string()) {
    return Error(ErrorCode::kInvalidArgument, std::string("manifest field ") + key + " is not a string");
  }
  return v.get<std::string>();
}

constexpr const char* kKeys[] = {"min_device_ram_mb", "min_firmware_version", "model_id",
                                 "rollout_percentage", "sha256", "size_bytes", "url", "version"};

}  // namespace

Expected<void> ValidateManifest(const Manifest& m) {
  EDGEFLEET_RETURN_IF_ERROR(CheckString("model_id", m.model_id, false));
  EDGEFLEET_RETURN_IF_ERROR(CheckRange("version", m.version, 1, kMaxInt));
  EDGEFLEET_RETURN_IF_ERROR(CheckString("url", m.url, false));
  if (!IsSha256Hex(m.sha256)) {
    return Error(ErrorCode::kInvalidArgument, "manifest field sha256 is not 64 lowercase hex digits");
  }
  EDGEFLEET_RETURN_IF_ERROR(CheckRange("size_bytes", m.size_bytes, 1, kMaxInt));
  EDGEFLEET_RETURN_IF_ERROR(CheckRange("min_device_ram_mb", m.min_device_ram_mb, 0, kMaxInt));
  EDGEFLEET_RETURN_IF_ERROR(CheckString("min_firmware_version", m.min_firmware_version, true));
  EDGEFLEET_RETURN_IF_ERROR(CheckRange("rollout_percentage", m.rollout_percentage, 0, 100));
  return Ok();
}

Expected<std::string> CanonicalManifestBytes(const Manifest& m) {
  EDGEFLEET_RETURN_IF_ERROR(ValidateManifest(m));
  try {
    // nlohmann::json keeps object keys in a std::map: dump() writes them
    // sorted, and with no indent argument it writes no whitespace.
    nlohmann::json object = {
        {"model_id", m.model_id},
        {"version", m.version},
        {"url", m.url},
        {"sha256", m.sha256},
        {"size_bytes", m.size_bytes},
        {"min_device_ram_mb", m.min_device_ram_mb},
        {"min_firmware_version", m.min_firmware_version},
        {"rollout_percentage", m.rollout_percentage},
    };
    return object.dump();
  } catch (const std::exception& e) {
    return Error(ErrorCode::kInternal, std::string("cannot serialise a manifest: ") + e.what());
  }
}

Expected<Manifest> ParseManifest(std::string_view json) {
  if (json.size() > kMaxManifestJsonBytes) {
    return Error(ErrorCode::kInvalidArgument, "manifest JSON is larger than 64 KiB");
  }
  try {
    const nlohmann::json object = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
    if (object.is_discarded()) return Error(ErrorCode::kInvalidArgument, "manifest is not valid JSON");
    if (!object.is_object()) return Error(ErrorCode::kInvalidArgument, "manifest is not a JSON object");
    for (const char* key : kKeys) {
      if (!object.contains(key)) {
        return Error(ErrorCode::kInvalidArgument, std::string("manifest lacks the field ") + key);
      }
    }
    if (object.size() != std::size(kKeys)) {
      for (const auto& item : object.items()) {
        bool known = false;
        for (const char* key : kKeys) known = known || item.key() == key;
        if (!known) {
          return Error(ErrorCode::kInvalidArgument, "manifest has an unknown field " + item.key());
        }
      }
    }
    Manifest m;
    EDGEFLEET_ASSIGN_OR_RETURN(m.model_id, StringField(object, "model_id"));
    EDGEFLEET_ASSIGN_OR_RETURN(m.version, IntegerField(object, "version"));
    EDGEFLEET_ASSIGN_OR_RETURN(m.url, StringField(object, "url"));
    EDGEFLEET_ASSIGN_OR_RETURN(m.sha256, StringField(object, "sha256"));
    EDGEFLEET_ASSIGN_OR_RETURN(m.size_bytes, IntegerField(object, "size_bytes"));
    EDGEFLEET_ASSIGN_OR_RETURN(m.min_device_ram_mb, IntegerField(object, "min_device_ram_mb"));
    EDGEFLEET_ASSIGN_OR_RETURN(m.min_firmware_version, StringField(object, "min_firmware_version"));
    EDGEFLEET_ASSIGN_OR_RETURN(m.rollout_percentage, IntegerField(object, "rollout_percentage"));
    EDGEFLEET_RETURN_IF_ERROR(ValidateManifest(m));
    return m;
  } catch (const std::exception& e) {
    return Error(ErrorCode::kInvalidArgument, std::string("cannot read a manifest: ") + e.what());
  }
}

Expected<std::string> SignManifest(const Ed25519PrivateKey& key, const Manifest& manifest) {
  EDGEFLEET_ASSIGN_OR_RETURN(const std::string bytes, CanonicalManifestBytes(manifest));
  EDGEFLEET_ASSIGN_OR_RETURN(const Ed25519Signature signature, Sign(key, AsBytes(bytes)));
  return Base64Encode(signature);
}

Expected<void> VerifyManifest(const Ed25519PublicKey& key, const Manifest& manifest,
                              std::string_view signature_base64) {
  EDGEFLEET_ASSIGN_OR_RETURN(const std::string bytes, CanonicalManifestBytes(manifest));
  auto signature = Base64Decode(signature_base64);
  if (!signature.ok()) return std::move(signature).error().WithContext("manifest signature");
  return Verify(key, AsBytes(bytes), *signature);
}

}  // namespace edgefleet::common
