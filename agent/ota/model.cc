#include "agent/ota/model.h"

#include <cmath>
#include <cstring>

#include "common/crypto.h"
#include "core/crc32.h"

extern "C" {
extern const unsigned char edgefleet_builtin_model[];
extern const unsigned long edgefleet_builtin_model_size;
}

namespace edgefleet::ota {
namespace {

using common::Error;
using common::ErrorCode;

constexpr std::size_t kThresholdFloats = 6;

void StoreU32(std::string& bytes, std::size_t offset, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[offset + static_cast<std::size_t>(i)] = static_cast<char>((value >> (8 * i)) & 0xffu);
}

common::Expected<std::string> Recrc(std::string bytes) {
  const std::size_t body = bytes.size() - 4;
  StoreU32(bytes, body, core::Crc32(reinterpret_cast<const std::uint8_t*>(bytes.data()), body));
  EDGEFLEET_RETURN_IF_ERROR(Model::Load(bytes, ModelSource::kDisk));
  return bytes;
}

}  // namespace

common::Expected<std::shared_ptr<const Model>> Model::Load(std::string_view bytes, ModelSource source) {
  if (bytes.size() > core::kMaxArtifactSize) {
    return Error(ErrorCode::kCorrupt, "model of " + std::to_string(bytes.size()) + " bytes exceeds the format's limit");
  }
  std::shared_ptr<Model> model(new Model());
  model->storage_.resize((bytes.size() + 7) / 8);
  if (!bytes.empty()) std::memcpy(model->storage_.data(), bytes.data(), bytes.size());
  model->size_ = bytes.size();
  const auto parsed = core::ParseArtifact(model->bytes(), bytes.size());
  if (!parsed.ok()) return Error(ErrorCode::kCorrupt, std::string("model artifact: ") + core::ToString(parsed.status));
  if (parsed.value.size != bytes.size()) {
    return Error(ErrorCode::kCorrupt, "model artifact: " + std::to_string(bytes.size() - parsed.value.size) +
                                          " bytes after its end");
  }
  model->view_ = parsed.value;
  EDGEFLEET_ASSIGN_OR_RETURN(model->sha256_, common::Sha256Hex(bytes));
  model->source_ = source;
  return std::shared_ptr<const Model>(std::move(model));
}

std::string_view BuiltinModelBytes() {
  return {reinterpret_cast<const char*>(edgefleet_builtin_model), edgefleet_builtin_model_size};
}

common::Expected<std::shared_ptr<const Model>> BuiltinModel() {
  return Model::Load(BuiltinModelBytes(), ModelSource::kBuiltin);
}

common::Expected<std::string> WithThresholds(std::string_view artifact, const core::Thresholds& t) {
  const float values[kThresholdFloats] = {t.mu, t.sigma, t.k_low, t.k_high, t.low, t.high};
  for (const float v : values) {
    if (!std::isfinite(v)) return Error(ErrorCode::kInvalidArgument, "thresholds must be finite");
  }
  if (t.sigma < 0 || t.low < 0 || t.low > t.high) {
    return Error(ErrorCode::kInvalidArgument, "thresholds must satisfy sigma >= 0 and 0 <= low <= high");
  }
  EDGEFLEET_ASSIGN_OR_RETURN(auto model, Model::Load(artifact, ModelSource::kDisk));
  // THRS is the last section (docs/model-format.md): its six floats end where the CRC starts.
  std::string bytes(artifact);
  const std::size_t at = bytes.size() - 4 - sizeof(values);
  const core::Thresholds& old = model->view().thresholds;
  const float current[kThresholdFloats] = {old.mu, old.sigma, old.k_low, old.k_high, old.low, old.high};
  if (std::memcmp(bytes.data() + at, current, sizeof(current)) != 0) {
    return Error(ErrorCode::kCorrupt, "model artifact: thresholds are not where the format puts them");
  }
  std::memcpy(bytes.data() + at, values, sizeof(values));
  return Recrc(std::move(bytes));
}

common::Expected<std::string> WithVersion(std::string_view artifact, std::uint32_t version) {
  EDGEFLEET_RETURN_IF_ERROR(Model::Load(artifact, ModelSource::kDisk));
  std::string bytes(artifact);
  StoreU32(bytes, 12, version);
  return Recrc(std::move(bytes));
}

}  // namespace edgefleet::ota
