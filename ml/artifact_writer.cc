#include "ml/artifact_writer.h"

#include <cstring>

#include "core/crc32.h"

namespace edgefleet::ml {
namespace {

class ByteWriter {
 public:
  template <class T>
  void Put(T value) {
    const std::size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    std::memcpy(bytes_.data() + at, &value, sizeof(T));
  }

  template <class T>
  void PutArray(const std::vector<T>& values) {
    for (const T& v : values) Put(v);
  }

  void Pad4() {
    while (bytes_.size() % 4 != 0) bytes_.push_back(0);
  }

  std::size_t size() const { return bytes_.size(); }

  void PatchU32(std::size_t at, std::uint32_t value) { std::memcpy(bytes_.data() + at, &value, 4); }

  // Starts a section; returns where its length goes.
  std::size_t BeginSection(std::uint32_t tag) {
    Put(tag);
    Put(std::uint32_t{0});
    return size() - 4;
  }

  void EndSection(std::size_t length_at) {
    Pad4();
    PatchU32(length_at, static_cast<std::uint32_t>(size() - length_at - 4));
  }

  std::vector<std::uint8_t> Take() { return std::move(bytes_); }

 private:
  std::vector<std::uint8_t> bytes_;
};

void PutSpectrumEdges(ByteWriter& w, const SpectrumSpecData& spectrum) {
  w.PutArray(spectrum.edges);
  w.Pad4();
}

void PutLayer(ByteWriter& w, const QuantizedLayer& layer) {
  w.Put(layer.in);
  w.Put(layer.out);
  w.Put(static_cast<std::uint8_t>(layer.activation));
  w.Put(std::uint8_t{0});
  w.Put(std::uint16_t{0});
  w.Put(layer.input_scale);
  w.Put(layer.input_zero_point);
  w.Put(layer.output_scale);
  w.Put(layer.output_zero_point);
  w.PutArray(layer.weight_scale);
  w.PutArray(layer.multiplier);
  w.PutArray(layer.bias);
  w.PutArray(layer.shift);
  w.Pad4();
  w.PutArray(layer.weights);
  w.Pad4();
}

std::string CheckSizes(const ArtifactSpec& spec) {
  if (spec.model_id.empty() || spec.model_id.size() > core::kModelIdSize) {
    return "model id must have 1 to 16 characters";
  }
  if (spec.parts.empty()) return "an artifact needs at least one part";
  if (spec.modes && spec.modes->centroids.size() != spec.parts.size()) {
    return "one part per mode is required";
  }
  for (const auto& network : spec.networks) {
    for (const QuantizedLayer& l : network) {
      const std::size_t out = l.out;
      if (l.weight_scale.size() != out || l.multiplier.size() != out || l.shift.size() != out ||
          l.bias.size() != out || l.weights.size() != out * l.in) {
        return "a layer's arrays do not match its shape";
      }
    }
  }
  for (const PartSpec& part : spec.parts) {
    const bool per_axis = spec.kind == core::FeatureKind::kTime && part.offset.size() == spec.axes;
    if ((part.offset.size() != spec.feature_count() && !per_axis) ||
        part.inv_scale.size() != part.offset.size()) {
      return "a part's normalisation matches neither the features nor the axes";
    }
  }
  return {};
}

}  // namespace

core::SpectrumSpec SpectrumSpecData::View() const {
  core::SpectrumSpec view;
  view.bin_count = bin_count();
  view.log_floor = log_floor;
  view.edges = edges.data();
  return view;
}

std::uint32_t ArtifactSpec::feature_count() const {
  return kind == core::FeatureKind::kTime ? window_len * axes : axes * spectrum.bin_count();
}

WriteResult WriteArtifact(const ArtifactSpec& spec) {
  WriteResult result;
  result.error = CheckSizes(spec);
  if (!result.ok()) return result;

  ByteWriter w;
  for (std::uint8_t b : core::kArtifactMagic) w.Put(b);
  w.Put(core::kFormatVersion);
  w.Put(static_cast<std::uint16_t>(core::kHeaderSize));
  w.Put(std::uint32_t{0});  // total size, patched below
  w.Put(spec.model_version);
  char id[core::kModelIdSize] = {};
  std::memcpy(id, spec.model_id.data(), spec.model_id.size());
  for (char c : id) w.Put(c);
  w.Put(static_cast<std::uint16_t>(spec.window_len));
  w.Put(static_cast<std::uint16_t>(spec.axes));
  const std::size_t sections =
      2 + (spec.modes ? 1 : 0) + spec.networks.size() + spec.parts.size();
  w.Put(static_cast<std::uint16_t>(sections));
  w.Put(std::uint16_t{0});  // flags
  w.Put(spec.sample_rate_hz);
  w.Put(std::uint32_t{0});  // reserved

  std::size_t at = w.BeginSection(core::kTagPreprocessing);
  w.Put(static_cast<std::uint32_t>(spec.kind));
  w.Put(static_cast<std::uint32_t>(spec.window));
  w.Put(spec.feature_count());
  if (spec.kind == core::FeatureKind::kSpectrum) {
    w.Put(spec.spectrum.bin_count());
    w.Put(spec.spectrum.log_floor);
    PutSpectrumEdges(w, spec.spectrum);
  } else {
    w.Put(std::uint32_t{0});
    w.Put(0.0f);
  }
  w.EndSection(at);

  if (spec.modes) {
    at = w.BeginSection(core::kTagModeSelector);
    w.Put(static_cast<std::uint32_t>(spec.modes->centroids.size()));
    w.Put(spec.modes->spectrum.bin_count());
    w.Put(spec.modes->spectrum.log_floor);
    w.Put(std::uint32_t{0});
    PutSpectrumEdges(w, spec.modes->spectrum);
    w.PutArray(spec.modes->inv_scale);
    for (const auto& centroid : spec.modes->centroids) w.PutArray(centroid);
    w.EndSection(at);
  }

  for (const auto& network : spec.networks) {
    at = w.BeginSection(core::kTagNetwork);
    w.Put(static_cast<std::uint32_t>(network.size()));
    for (const QuantizedLayer& layer : network) PutLayer(w, layer);
    w.EndSection(at);
  }

  for (std::size_t mode = 0; mode < spec.parts.size(); ++mode) {
    const PartSpec& part = spec.parts[mode];
    at = w.BeginSection(core::kTagPart);
    w.Put(static_cast<std::uint32_t>(mode));
    w.Put(part.network);
    w.Put(part.score_scale);
    w.Put(static_cast<std::uint32_t>(part.offset.size()));
    w.PutArray(part.offset);
    w.PutArray(part.inv_scale);
    w.EndSection(at);
  }

  at = w.BeginSection(core::kTagThresholds);
  const core::Thresholds& t = spec.thresholds;
  for (float v : {t.mu, t.sigma, t.k_low, t.k_high, t.low, t.high}) w.Put(v);
  w.EndSection(at);

  const auto total = static_cast<std::uint32_t>(w.size() + 4);
  w.PatchU32(8, total);
  std::vector<std::uint8_t> bytes = w.Take();
  const std::uint32_t crc = core::Crc32(bytes.data(), bytes.size());
  bytes.resize(bytes.size() + 4);
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);

  auto parsed = core::ParseArtifact(bytes.data(), bytes.size());
  if (!parsed.ok()) {
    result.error = std::string("the spec does not make a valid artifact: ") +
                   core::ToString(parsed.status);
    return result;
  }
  result.bytes = std::move(bytes);
  return result;
}

}  // namespace edgefleet::ml
