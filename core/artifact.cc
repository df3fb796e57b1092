#include "core/artifact.h"

#include <cmath>
#include <cstring>
#include <initializer_list>

#include "core/crc32.h"

namespace edgefleet::core {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "artifacts are little-endian and read in place");

constexpr std::size_t kLayerHeaderSize = 24;
constexpr std::int32_t kMaxAbsBias = 1 << 30;  // keeps every accumulator inside int32

// A bounds-checked cursor over [begin, end). Every read checks first; a read
// past the end sets the failure flag and returns zero.
class Cursor {
 public:
  Cursor(const std::uint8_t* begin, std::size_t size) : p_(begin), end_(begin + size) {}

  bool ok() const { return ok_; }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  const std::uint8_t* position() const { return p_; }

  template <class T>
  T Read() {
    T value{};
    if (!Take(sizeof(T))) return value;
    std::memcpy(&value, p_ - sizeof(T), sizeof(T));
    return value;
  }

  // Returns a pointer to `count` elements of T in place (T's alignment is
  // guaranteed by the 4-byte layout rule), or nullptr if they do not fit.
  template <class T>
  const T* Array(std::size_t count) {
    if (count > remaining() / sizeof(T)) {
      ok_ = false;
      return nullptr;
    }
    const T* array = reinterpret_cast<const T*>(p_);
    p_ += count * sizeof(T);
    return array;
  }

  // Skips padding up to a 4-byte boundary (relative to the artifact start,
  // which is 4-byte aligned); padding bytes must be zero.
  bool Pad4() {
    while ((reinterpret_cast<std::uintptr_t>(p_) & 3u) != 0) {
      if (p_ == end_ || *p_ != 0) return ok_ = false;
      ++p_;
    }
    return true;
  }

 private:
  bool Take(std::size_t n) {
    if (n > remaining()) return ok_ = false;
    p_ += n;
    return true;
  }

  const std::uint8_t* p_;
  const std::uint8_t* end_;
  bool ok_ = true;
};

bool Finite(float v) { return std::isfinite(v); }

bool AllFinite(const float* values, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    if (!Finite(values[i])) return false;
  }
  return true;
}

bool PositiveScale(float v) { return Finite(v) && v > 1e-30f && v < 1e30f; }

bool Factorable(std::uint32_t n) {
  if (n == 0) return false;
  for (std::uint32_t p : {2u, 3u, 5u}) {
    while (n % p == 0) n /= p;
  }
  return n == 1;
}

Status ParseSpectrumSpec(Cursor& c, std::uint32_t bin_count, std::uint32_t window_len,
                         SpectrumSpec* spec) {
  if (bin_count == 0 || bin_count > kMaxBins) return Status::kBadPreprocessing;
  if (!Finite(spec->log_floor) || spec->log_floor < 0.0f) return Status::kBadPreprocessing;
  if (!Factorable(window_len)) return Status::kBadPreprocessing;
  const std::uint16_t* edges = c.Array<std::uint16_t>(bin_count + 1);
  if (edges == nullptr || !c.Pad4()) return Status::kTruncated;
  const std::uint32_t one_sided = window_len / 2 + 1;
  for (std::uint32_t j = 0; j < bin_count; ++j) {
    if (edges[j] >= edges[j + 1]) return Status::kBadPreprocessing;
  }
  if (edges[bin_count] > one_sided) return Status::kBadPreprocessing;
  spec->bin_count = bin_count;
  spec->edges = edges;
  return Status::kOk;
}

Status ParsePreprocessing(Cursor& c, const ModelView& m, PreprocessingView* prep) {
  const auto kind = c.Read<std::uint32_t>();
  const auto window = c.Read<std::uint32_t>();
  prep->feature_count = c.Read<std::uint32_t>();
  const auto bin_count = c.Read<std::uint32_t>();
  prep->spectrum.log_floor = c.Read<float>();
  if (!c.ok()) return Status::kTruncated;
  if (window > 1) return Status::kBadPreprocessing;
  prep->window = static_cast<WindowFunction>(window);
  if (kind == static_cast<std::uint32_t>(FeatureKind::kTime)) {
    prep->kind = FeatureKind::kTime;
    if (bin_count != 0 || prep->spectrum.log_floor != 0.0f) return Status::kBadPreprocessing;
    if (prep->feature_count != m.window_values()) return Status::kBadShape;
    return Status::kOk;
  }
  if (kind != static_cast<std::uint32_t>(FeatureKind::kSpectrum)) return Status::kBadPreprocessing;
  prep->kind = FeatureKind::kSpectrum;
  if (Status s = ParseSpectrumSpec(c, bin_count, m.window_len, &prep->spectrum); s != Status::kOk) {
    return s;
  }
  if (prep->feature_count != m.axes * bin_count) return Status::kBadShape;
  return Status::kOk;
}

Status ParseModeSelector(Cursor& c, const ModelView& m, ModeSelectorView* modes) {
  modes->mode_count = c.Read<std::uint32_t>();
  const auto bin_count = c.Read<std::uint32_t>();
  modes->spectrum.log_floor = c.Read<float>();
  const auto reserved = c.Read<std::uint32_t>();
  if (!c.ok()) return Status::kTruncated;
  if (reserved != 0) return Status::kBadSection;
  if (modes->mode_count < 2 || modes->mode_count > kMaxModes) return Status::kBadSize;
  if (Status s = ParseSpectrumSpec(c, bin_count, m.window_len, &modes->spectrum); s != Status::kOk) {
    return s;
  }
  const std::size_t dims = std::size_t{m.axes} * bin_count;
  modes->inv_scale = c.Array<float>(dims);
  modes->centroids = c.Array<float>(dims * modes->mode_count);
  if (!c.ok()) return Status::kTruncated;
  if (!AllFinite(modes->inv_scale, dims) || !AllFinite(modes->centroids, dims * modes->mode_count)) {
    return Status::kBadPreprocessing;
  }
  return Status::kOk;
}

Status ParseLayer(Cursor& c, LayerView* layer) {
  layer->in = c.Read<std::uint16_t>();
  layer->out = c.Read<std::uint16_t>();
  const auto activation = c.Read<std::uint8_t>();
  const auto r0 = c.Read<std::uint8_t>();
  const auto r1 = c.Read<std::uint16_t>();
  layer->input_scale = c.Read<float>();
  layer->input_zero_point = c.Read<std::int32_t>();
  layer->output_scale = c.Read<float>();
  layer->output_zero_point = c.Read<std::int32_t>();
  if (!c.ok()) return Status::kTruncated;
  if (layer->in == 0 || layer->out == 0 || layer->in > kMaxLayerWidth || layer->out > kMaxLayerWidth) {
    return Status::kBadSize;
  }
  if (activation > 1 || r0 != 0 || r1 != 0) return Status::kBadSection;
  layer->activation = static_cast<Activation>(activation);
  if (!PositiveScale(layer->input_scale) || !PositiveScale(layer->output_scale)) {
    return Status::kBadQuantization;
  }
  for (std::int32_t zp : {layer->input_zero_point, layer->output_zero_point}) {
    if (zp < -128 || zp > 127) return Status::kBadQuantization;
  }
  const std::size_t out = layer->out;
  layer->weight_scale = c.Array<float>(out);
  layer->multiplier = c.Array<std::int32_t>(out);
  layer->bias = c.Array<std::int32_t>(out);
  layer->shift = c.Array<std::int8_t>(out);
  if (!c.ok() || !c.Pad4()) return Status::kTruncated;
  layer->weights = c.Array<std::int8_t>(out * layer->in);
  if (!c.ok() || !c.Pad4()) return Status::kTruncated;
  for (std::size_t j = 0; j < out; ++j) {
    if (!PositiveScale(layer->weight_scale[j])) return Status::kBadQuantization;
    if (layer->multiplier[j] < 0) return Status::kBadQuantization;
    if (layer->shift[j] < -31 || layer->shift[j] > 30) return Status::kBadQuantization;
    if (layer->bias[j] < -kMaxAbsBias || layer->bias[j] > kMaxAbsBias) return Status::kBadQuantization;
  }
  return Status::kOk;
}

Status ParseNetwork(Cursor& c, NetworkView* network) {
  network->layer_count = c.Read<std::uint32_t>();
  if (!c.ok()) return Status::kTruncated;
  if (network->layer_count == 0 || network->layer_count > kMaxLayers) return Status::kBadSize;
  network->first_layer = c.position();
  LayerView previous;
  for (std::uint32_t i = 0; i < network->layer_count; ++i) {
    LayerView layer;
    if (Status s = ParseLayer(c, &layer); s != Status::kOk) return s;
    if (i > 0) {
      if (layer.in != previous.out) return Status::kBadShape;
      if (layer.input_scale != previous.output_scale ||
          layer.input_zero_point != previous.output_zero_point) {
        return Status::kBadQuantization;
      }
    }
    previous = layer;
  }
  return Status::kOk;
}

Status ParsePart(Cursor& c, const ModelView& m, std::uint32_t* mode, PartView* part) {
  *mode = c.Read<std::uint32_t>();
  part->network = c.Read<std::uint32_t>();
  part->score_scale = c.Read<float>();
  part->norm_count = c.Read<std::uint32_t>();
  if (!c.ok()) return Status::kTruncated;
  const bool per_axis =
      m.preprocessing.kind == FeatureKind::kTime && part->norm_count == m.axes;
  if (part->norm_count != m.preprocessing.feature_count && !per_axis) return Status::kBadShape;
  part->offset = c.Array<float>(part->norm_count);
  part->inv_scale = c.Array<float>(part->norm_count);
  if (!c.ok()) return Status::kTruncated;
  if (!PositiveScale(part->score_scale)) return Status::kBadQuantization;
  if (!AllFinite(part->offset, part->norm_count) || !AllFinite(part->inv_scale, part->norm_count)) {
    return Status::kBadPreprocessing;
  }
  return Status::kOk;
}

Status ParseThresholds(Cursor& c, Thresholds* t) {
  t->mu = c.Read<float>();
  t->sigma = c.Read<float>();
  t->k_low = c.Read<float>();
  t->k_high = c.Read<float>();
  t->low = c.Read<float>();
  t->high = c.Read<float>();
  if (!c.ok()) return Status::kTruncated;
  for (float v : {t->mu, t->sigma, t->k_low, t->k_high, t->low, t->high}) {
    if (!Finite(v)) return Status::kBadThresholds;
  }
  if (t->sigma < 0.0f || t->low < 0.0f || t->low > t->high) return Status::kBadThresholds;
  return Status::kOk;
}

Status ParseHeader(Cursor& c, ModelView* m) {
  const std::uint8_t* magic = c.Array<std::uint8_t>(4);
  if (magic == nullptr) return Status::kTruncated;
  if (std::memcmp(magic, kArtifactMagic, 4) != 0) return Status::kBadMagic;
  m->format_version = c.Read<std::uint16_t>();
  const auto header_size = c.Read<std::uint16_t>();
  if (m->format_version != kFormatVersion) return Status::kUnsupportedVersion;
  if (header_size != kHeaderSize) return Status::kBadHeader;
  return Status::kOk;
}

// Validates the fixed header fields after the CRC has been checked.
Status ParseIdentity(Cursor& c, ModelView* m, std::uint32_t* section_count) {
  m->model_version = c.Read<std::uint32_t>();
  const char* id = c.Array<char>(kModelIdSize);
  m->window_len = c.Read<std::uint16_t>();
  m->axes = c.Read<std::uint16_t>();
  *section_count = c.Read<std::uint16_t>();
  const auto flags = c.Read<std::uint16_t>();
  m->sample_rate_hz = c.Read<std::uint32_t>();
  const auto reserved = c.Read<std::uint32_t>();
  if (!c.ok()) return Status::kTruncated;
  if (flags != 0 || reserved != 0) return Status::kBadHeader;
  bool ended = false;
  for (std::size_t i = 0; i < kModelIdSize; ++i) {
    const char ch = id[i];
    if (ch == '\0') {
      ended = true;
    } else if (ended || ch < 0x20 || ch > 0x7e) {
      return Status::kBadHeader;
    }
    m->model_id[i] = ch;
  }
  m->model_id[kModelIdSize] = '\0';
  if (m->model_id[0] == '\0') return Status::kBadHeader;
  if (m->window_len == 0 || m->window_len > kMaxWindowLen) return Status::kBadHeader;
  if (m->axes == 0 || m->axes > kMaxAxes) return Status::kBadHeader;
  if (m->sample_rate_hz == 0 || m->sample_rate_hz > 100'000) return Status::kBadHeader;
  if (*section_count < 3 || *section_count > kMaxSections) return Status::kBadSize;
  return Status::kOk;
}

// Sections come in a fixed order: PREP, [MODE], NETW+, PART+, THRS.
enum class Stage { kPreprocessing, kModes, kNetworks, kParts, kThresholds, kDone };

Status ParseSections(Cursor& c, std::uint32_t section_count, ModelView* m) {
  Stage stage = Stage::kPreprocessing;
  bool mode_seen[kMaxModes] = {};
  for (std::uint32_t i = 0; i < section_count; ++i) {
    const auto tag = c.Read<std::uint32_t>();
    const auto length = c.Read<std::uint32_t>();
    if (!c.ok()) return Status::kTruncated;
    if (length % 4 != 0) return Status::kBadSection;
    if (length > c.remaining()) return Status::kTruncated;
    Cursor body(c.position(), length);
    (void)c.Array<std::uint8_t>(length);
    Status s = Status::kOk;
    if (tag == kTagPreprocessing && stage == Stage::kPreprocessing) {
      s = ParsePreprocessing(body, *m, &m->preprocessing);
      stage = Stage::kModes;
    } else if (tag == kTagModeSelector && stage == Stage::kModes) {
      s = ParseModeSelector(body, *m, &m->modes);
      stage = Stage::kNetworks;
    } else if (tag == kTagNetwork && (stage == Stage::kModes || stage == Stage::kNetworks)) {
      if (m->network_count == kMaxNetworks) return Status::kBadSize;
      s = ParseNetwork(body, &m->networks[m->network_count++]);
      stage = Stage::kNetworks;
    } else if (tag == kTagPart && (stage == Stage::kNetworks || stage == Stage::kParts)) {
      if (m->network_count == 0) return Status::kMissingSection;
      if (m->part_count == m->modes.mode_count) return Status::kBadSize;
      std::uint32_t mode = 0;
      PartView part;
      s = ParsePart(body, *m, &mode, &part);
      if (s == Status::kOk) {
        if (mode >= m->modes.mode_count || mode_seen[mode]) return Status::kBadSection;
        if (part.network >= m->network_count) return Status::kBadSection;
        mode_seen[mode] = true;
        m->parts[mode] = part;
        ++m->part_count;
      }
      stage = Stage::kParts;
    } else if (tag == kTagThresholds && stage == Stage::kParts) {
      s = ParseThresholds(body, &m->thresholds);
      stage = Stage::kDone;
    } else if (tag == kTagPreprocessing || tag == kTagModeSelector || tag == kTagNetwork ||
               tag == kTagPart || tag == kTagThresholds) {
      return stage == Stage::kPreprocessing ? Status::kMissingSection : Status::kBadSection;
    } else {
      return Status::kBadSection;
    }
    if (s != Status::kOk) return s;
    if (body.remaining() != 0) return Status::kBadSection;  // trailing bytes in a section
  }
  if (stage != Stage::kDone) return Status::kMissingSection;
  if (m->part_count != m->modes.mode_count) return Status::kMissingSection;
  if (c.remaining() != 0) return Status::kBadSection;
  return Status::kOk;
}

// Every network must map the features back onto themselves.
Status CheckNetworkShapes(const ModelView& m) {
  for (std::uint32_t n = 0; n < m.network_count; ++n) {
    const NetworkView& net = m.networks[n];
    if (GetLayer(net, 0).in != m.preprocessing.feature_count ||
        GetLayer(net, net.layer_count - 1).out != m.preprocessing.feature_count) {
      return Status::kBadShape;
    }
  }
  return Status::kOk;
}

}  // namespace

std::size_t EncodedLayerSize(std::uint32_t in, std::uint32_t out) {
  auto pad4 = [](std::size_t n) { return (n + 3u) & ~std::size_t{3}; };
  return kLayerHeaderSize + 12u * out + pad4(out) + pad4(std::size_t{in} * out);
}

namespace {

// Decodes an already validated layer: fields and array pointers, no checks.
LayerView DecodeLayer(const std::uint8_t* p) {
  LayerView layer;
  std::uint16_t shape[2];
  std::memcpy(shape, p, sizeof(shape));
  layer.in = shape[0];
  layer.out = shape[1];
  layer.activation = static_cast<Activation>(p[4]);
  std::memcpy(&layer.input_scale, p + 8, 4);
  std::memcpy(&layer.input_zero_point, p + 12, 4);
  std::memcpy(&layer.output_scale, p + 16, 4);
  std::memcpy(&layer.output_zero_point, p + 20, 4);
  const std::uint8_t* arrays = p + kLayerHeaderSize;
  const std::size_t out = layer.out;
  layer.weight_scale = reinterpret_cast<const float*>(arrays);
  layer.multiplier = reinterpret_cast<const std::int32_t*>(arrays + 4 * out);
  layer.bias = reinterpret_cast<const std::int32_t*>(arrays + 8 * out);
  layer.shift = reinterpret_cast<const std::int8_t*>(arrays + 12 * out);
  layer.weights = reinterpret_cast<const std::int8_t*>(arrays + 12 * out + ((out + 3u) & ~std::size_t{3}));
  return layer;
}

}  // namespace

LayerView GetLayer(const NetworkView& network, std::uint32_t index) {
  const std::uint8_t* p = network.first_layer;
  LayerView layer = DecodeLayer(p);
  for (std::uint32_t i = 0; i < index; ++i) {
    p += EncodedLayerSize(layer.in, layer.out);
    layer = DecodeLayer(p);
  }
  return layer;
}

Result<ModelView> ParseArtifact(const std::uint8_t* data, std::size_t size) {
  Result<ModelView> result;
  auto fail = [&result](Status s) {
    result.status = s;
    result.value = ModelView{};
    return result;
  };
  if (data == nullptr) return fail(Status::kBadArgument);
  if ((reinterpret_cast<std::uintptr_t>(data) & 3u) != 0) return fail(Status::kMisaligned);
  if (size < kHeaderSize + 4) return fail(Status::kTruncated);

  ModelView& m = result.value;
  Cursor header(data, kHeaderSize);
  if (Status s = ParseHeader(header, &m); s != Status::kOk) return fail(s);
  const auto total_size = header.Read<std::uint32_t>();
  if (total_size < kHeaderSize + 4 || total_size % 4 != 0 || total_size > kMaxArtifactSize) {
    return fail(Status::kBadSize);
  }
  if (total_size > size) return fail(Status::kTruncated);

  std::uint32_t stored_crc = 0;
  std::memcpy(&stored_crc, data + total_size - 4, 4);
  if (Crc32(data, total_size - 4) != stored_crc) return fail(Status::kBadCrc);

  std::uint32_t section_count = 0;
  if (Status s = ParseIdentity(header, &m, &section_count); s != Status::kOk) return fail(s);
  Cursor sections(data + kHeaderSize, total_size - 4 - kHeaderSize);
  if (Status s = ParseSections(sections, section_count, &m); s != Status::kOk) return fail(s);
  if (m.modes.mode_count > 1 && m.modes.spectrum.bin_count == 0) return fail(Status::kMissingSection);
  if (Status s = CheckNetworkShapes(m); s != Status::kOk) return fail(s);

  m.crc32 = stored_crc;
  m.data = data;
  m.size = total_size;
  return result;
}

}  // namespace edgefleet::core
