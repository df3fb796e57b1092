#include "ml/cloud_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include "core/crc32.h"
#include "core/spectrum.h"
#include "ml/bank_products.h"
#include "ml/modes.h"

namespace edgefleet::ml {
namespace {

constexpr std::uint8_t kMagic[4] = {'E', 'F', 'C', 'M'};
constexpr std::size_t kHeaderBytes = 16;  // magic, u16 version, u16 reserved, u32 size, u32 crc
constexpr std::size_t kMaxCloudBytes = 64u << 20;
constexpr std::uint32_t kMaxDims = 4096;
constexpr std::uint32_t kMaxModes = 16;
constexpr std::uint32_t kMaxLayers = 16;
constexpr std::uint32_t kMaxBank = 1u << 20;

// The bank's squared norms, from PrepareBank, or computed here for a mode
// built without it (the same numbers either way, only slower).
struct BankNorms {
  const Eigen::VectorXf* norms;
  Eigen::VectorXf own;

  explicit BankNorms(const CloudMode& mode) : norms(&mode.bank_norms) {
    if (mode.bank_norms.size() != mode.bank.cols()) {
      own = mode.bank.colwise().squaredNorm().transpose();
      norms = &own;
    }
  }
  const float* data() const { return norms->data(); }
};

// The mean, per feature, of the k smallest of |b|^2 - 2 b.z + |z|^2 over the
// bank's products d = b.z (each clamped at 0 against rounding), added in
// ascending order.
//
// Selection without sorting 512 values: split them in k groups; the largest
// of the k group minima bounds the k smallest from above, so one pass keeps
// the few values at or under it, and only those are sorted. The same k
// values, in the same order, as sorting everything.
float MeanOfNearest(const float* d, Eigen::Index n, const float* norms, float z_norm, std::uint32_t k,
                    Eigen::Index features) {
  const auto take = static_cast<Eigen::Index>(std::min<Eigen::Index>(k, n));
  if (take == 0) return 0.0f;
  thread_local Eigen::ArrayXf values;
  thread_local std::vector<float> kept;
  values.resize(n);
  values = Eigen::Map<const Eigen::ArrayXf>(d, n) * -2.0f + Eigen::Map<const Eigen::ArrayXf>(norms, n);
  float bound = -std::numeric_limits<float>::infinity();
  for (Eigen::Index g = 0; g < take; ++g) {
    const Eigen::Index begin = g * n / take;
    const Eigen::Index end = (g + 1) * n / take;
    bound = std::max(bound, values.segment(begin, end - begin).minCoeff());
  }
  kept.clear();
  for (Eigen::Index i = 0; i < n; ++i) {
    if (values[i] <= bound) kept.push_back(values[i]);
  }
  if (static_cast<Eigen::Index>(kept.size()) < take) kept.assign(values.begin(), values.end());  // NaN
  std::partial_sort(kept.begin(), kept.begin() + take, kept.end());
  float sum = 0.0f;
  for (Eigen::Index j = 0; j < take; ++j) sum += std::max(0.0f, kept[static_cast<std::size_t>(j)] + z_norm);
  return sum / static_cast<float>(take) / static_cast<float>(features);
}

// Mean squared distance of each column of z to its k nearest columns of the
// mode's bank, per feature: one matrix product for the whole batch.
Eigen::VectorXf NeighbourScores(const CloudMode& mode, const Eigen::MatrixXf& z, std::uint32_t k) {
  Eigen::VectorXf out = Eigen::VectorXf::Zero(z.cols());
  if (mode.bank.cols() == 0 || z.cols() == 0) return out;
  const BankNorms norms(mode);
  const Eigen::MatrixXf d = mode.bank.transpose() * z;  // bank x batch
  for (Eigen::Index c = 0; c < z.cols(); ++c) {
    out[c] = MeanOfNearest(d.col(c).data(), d.rows(), norms.data(), z.col(c).squaredNorm(), k, z.rows());
  }
  return out;
}

class Writer {
 public:
  void U32(std::uint32_t v) { Raw(&v, 4); }
  void F32(float v) { Raw(&v, 4); }
  void Floats(const float* p, std::size_t n) { Raw(p, n * 4); }
  void Spectrum(const SpectrumSpecData& s) {
    F32(s.log_floor);
    U32(static_cast<std::uint32_t>(s.edges.size()));
    for (std::uint16_t e : s.edges) U32(e);
  }
  std::vector<std::uint8_t> bytes;

 private:
  void Raw(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    bytes.insert(bytes.end(), b, b + n);
  }
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> b) : bytes_(b) {}
  bool U32(std::uint32_t* v) { return Raw(v, 4); }
  bool F32(float* v) { return Raw(v, 4) && std::isfinite(*v); }
  bool Count(std::uint32_t* v, std::uint32_t max) { return U32(v) && *v <= max; }
  bool Floats(float* p, std::size_t n) {
    if (!Raw(p, n * 4)) return false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!std::isfinite(p[i])) return false;
    }
    return true;
  }
  bool Floats(std::vector<float>* v, std::uint32_t n) {
    if (static_cast<std::size_t>(n) * 4 > left()) return false;
    v->resize(n);
    return Floats(v->data(), n);
  }
  bool Spectrum(SpectrumSpecData* s, std::uint32_t half) {
    std::uint32_t n = 0;
    if (!F32(&s->log_floor) || s->log_floor < 0.0f || !Count(&n, 65) || n < 2) return false;
    s->edges.clear();
    for (std::uint32_t i = 0; i < n; ++i) {
      std::uint32_t e = 0;
      if (!U32(&e) || e > half + 1 || (i > 0 && e <= s->edges.back())) return false;
      s->edges.push_back(static_cast<std::uint16_t>(e));
    }
    return true;
  }
  std::size_t left() const { return bytes_.size() - pos_; }

 private:
  bool Raw(void* p, std::size_t n) {
    if (n > left()) return false;
    if (n == 0) return true;  // p may be an empty vector's null data()
    std::memcpy(p, bytes_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

}  // namespace

std::size_t CloudModel::ParameterCount() const {
  std::size_t count = selector.inv_scale.size() * (1 + selector.centroids.size());
  for (const CloudMode& m : modes) {
    count += m.offset.size() + m.inv_scale.size() + m.autoencoder.ParameterCount() +
             static_cast<std::size_t>(m.bank.size()) + 2;
  }
  return count;
}

namespace {

CloudScore ScoreFeatures(const CloudModel& model, const float* selector_features, const float* features) {
  CloudScore s;
  s.mode = NearestMode(model.selector, selector_features);
  const CloudMode& mode = model.modes[s.mode];
  const Eigen::Index n = static_cast<Eigen::Index>(mode.offset.size());
  const Eigen::Map<const Eigen::VectorXf> f(features, n);
  const Eigen::Map<const Eigen::VectorXf> offset(mode.offset.data(), n);
  const Eigen::Map<const Eigen::VectorXf> inv_scale(mode.inv_scale.data(), n);
  const Eigen::MatrixXf z = (f - offset).cwiseProduct(inv_scale);
  const float mse = mode.autoencoder.ReconstructionMse(z)[0];
  float neighbours = 0.0f;
  if (mode.bank.cols() > 0) {
    // One window: the bank products by the dispatched kernel, into a buffer
    // each thread keeps.
    const BankNorms norms(mode);
    thread_local std::vector<float> products;
    products.resize(static_cast<std::size_t>(mode.bank.cols()));
    BankProducts(mode.bank, mode.bank_panels, z.data(), products.data());
    neighbours = MeanOfNearest(products.data(), mode.bank.cols(), norms.data(), z.squaredNorm(), model.neighbours, n);
  }
  s.score = mse * mode.autoencoder_scale + neighbours * mode.neighbour_scale;
  s.anomaly = s.score > model.threshold;
  return s;
}

}  // namespace

CloudScore Score(const CloudModel& model, SpectralFeatures& features, std::span<const float> window) {
  std::vector<float> selector(model.selector.inv_scale.size());
  std::vector<float> f(model.feature_count());
  features.ComputeTwo(window, model.selector.spectrum, selector.data(), model.spectrum, f.data());
  return ScoreFeatures(model, selector.data(), f.data());
}

std::vector<CloudScore> ScoreBatch(const CloudModel& model, SpectralFeatures& features,
                                   const Eigen::MatrixXf& windows) {
  const std::size_t count = static_cast<std::size_t>(windows.cols());
  std::vector<CloudScore> out(count);
  const Eigen::Index dims = static_cast<Eigen::Index>(model.feature_count());
  Eigen::MatrixXf z(dims, windows.cols());
  std::vector<float> selector(model.selector.inv_scale.size());
  std::vector<float> f(static_cast<std::size_t>(dims));
  // Group by mode, then one autoencoder pass per mode.
  std::vector<std::vector<Eigen::Index>> members(model.modes.size());
  for (Eigen::Index i = 0; i < windows.cols(); ++i) {
    features.ComputeTwo(std::span<const float>(windows.col(i).data(), static_cast<std::size_t>(windows.rows())),
                        model.selector.spectrum, selector.data(), model.spectrum, f.data());
    const std::uint32_t mode = NearestMode(model.selector, selector.data());
    out[static_cast<std::size_t>(i)].mode = mode;
    const CloudMode& m = model.modes[mode];
    for (Eigen::Index d = 0; d < dims; ++d) {
      const auto k = static_cast<std::size_t>(d);
      z(d, i) = (f[k] - m.offset[k]) * m.inv_scale[k];
    }
    members[mode].push_back(i);
  }
  for (std::size_t mode = 0; mode < model.modes.size(); ++mode) {
    if (members[mode].empty()) continue;
    const CloudMode& m = model.modes[mode];
    Eigen::MatrixXf batch(dims, static_cast<Eigen::Index>(members[mode].size()));
    for (std::size_t j = 0; j < members[mode].size(); ++j) batch.col(static_cast<Eigen::Index>(j)) = z.col(members[mode][j]);
    const Eigen::VectorXf mse = m.autoencoder.ReconstructionMse(batch);
    const Eigen::VectorXf neighbours = NeighbourScores(m, batch, model.neighbours);
    for (std::size_t j = 0; j < members[mode].size(); ++j) {
      const auto col = static_cast<Eigen::Index>(j);
      CloudScore& s = out[static_cast<std::size_t>(members[mode][j])];
      s.score = mse[col] * m.autoencoder_scale + neighbours[col] * m.neighbour_scale;
      s.anomaly = s.score > model.threshold;
    }
  }
  return out;
}

std::vector<std::uint8_t> EncodeCloudModel(const CloudModel& model) {
  Writer w;
  w.U32(model.version);
  w.U32(model.window_len);
  w.U32(model.axes);
  w.U32(model.neighbours);
  w.F32(model.threshold);
  w.Spectrum(model.spectrum);
  w.Spectrum(model.selector.spectrum);
  w.U32(static_cast<std::uint32_t>(model.selector.inv_scale.size()));
  w.Floats(model.selector.inv_scale.data(), model.selector.inv_scale.size());
  w.U32(static_cast<std::uint32_t>(model.modes.size()));
  for (const auto& c : model.selector.centroids) w.Floats(c.data(), c.size());
  for (const CloudMode& m : model.modes) {
    w.Floats(m.offset.data(), m.offset.size());
    w.Floats(m.inv_scale.data(), m.inv_scale.size());
    w.U32(static_cast<std::uint32_t>(m.autoencoder.layers.size()));
    for (const FloatLayer& layer : m.autoencoder.layers) {
      w.U32(static_cast<std::uint32_t>(layer.in()));
      w.U32(static_cast<std::uint32_t>(layer.out()));
      w.U32(static_cast<std::uint32_t>(layer.activation));
      w.Floats(layer.weight.data(), static_cast<std::size_t>(layer.weight.size()));  // column-major
      w.Floats(layer.bias.data(), static_cast<std::size_t>(layer.bias.size()));
    }
    w.F32(m.autoencoder_scale);
    w.U32(static_cast<std::uint32_t>(m.bank.cols()));
    w.Floats(m.bank.data(), static_cast<std::size_t>(m.bank.size()));
    w.F32(m.neighbour_scale);
  }
  std::vector<std::uint8_t> out(kHeaderBytes);
  std::memcpy(out.data(), kMagic, 4);
  const std::uint16_t version = kCloudFormatVersion;
  std::memcpy(out.data() + 4, &version, 2);
  const auto size = static_cast<std::uint32_t>(w.bytes.size());
  const std::uint32_t crc = core::Crc32(w.bytes.data(), w.bytes.size());
  std::memcpy(out.data() + 8, &size, 4);
  std::memcpy(out.data() + 12, &crc, 4);
  out.insert(out.end(), w.bytes.begin(), w.bytes.end());
  return out;
}

namespace {

// Whether the core's spectrum code takes windows of this shape (an FFT length
// of 2s, 3s and 5s, axes within its limit): a model it refuses could decode
// here and then fail every Score (SpectralFeatures aborts on it). Found by
// the cloud_model fuzz target.
bool CoreTakesShape(std::uint32_t window_len, std::uint32_t axes) {
  std::vector<std::uint64_t> memory((core::SpectrumExtractor::RequiredBytes(window_len) + 7) / 8);
  return core::SpectrumExtractor::Create(window_len, axes, core::WindowFunction::kNone, memory.data(),
                                         memory.size() * 8)
      .ok();
}

}  // namespace

DataResult<CloudModel> DecodeCloudModel(std::span<const std::uint8_t> bytes) {
  using R = DataResult<CloudModel>;
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, 4) != 0) {
    return R::Fail("not an edgefleet cloud model (no EFCM header).");
  }
  std::uint16_t version = 0;
  std::uint32_t size = 0;
  std::uint32_t crc = 0;
  std::memcpy(&version, bytes.data() + 4, 2);
  std::memcpy(&size, bytes.data() + 8, 4);
  std::memcpy(&crc, bytes.data() + 12, 4);
  if (version != kCloudFormatVersion) {
    return R::Fail("unsupported cloud model format version " + std::to_string(version) + ".");
  }
  if (size != bytes.size() - kHeaderBytes) return R::Fail("the cloud model is truncated or has trailing bytes.");
  const std::span<const std::uint8_t> payload = bytes.subspan(kHeaderBytes);
  if (core::Crc32(payload.data(), payload.size()) != crc) return R::Fail("the cloud model's checksum does not match.");

  const auto corrupt = [] { return R::Fail("the cloud model is corrupt: a field is out of range."); };
  Reader r(payload);
  CloudModel m;
  std::uint32_t dims = 0;
  std::uint32_t mode_count = 0;
  if (!r.U32(&m.version) || !r.Count(&m.window_len, 256) || m.window_len < 8 || !r.Count(&m.axes, 4) ||
      m.axes == 0 || !CoreTakesShape(m.window_len, m.axes) || !r.Count(&m.neighbours, 1024) ||
      m.neighbours == 0 || !r.F32(&m.threshold) ||
      !r.Spectrum(&m.spectrum, m.window_len / 2) || !r.Spectrum(&m.selector.spectrum, m.window_len / 2) ||
      !r.Count(&dims, kMaxDims) || dims != m.axes * m.selector.spectrum.bin_count() ||
      !r.Floats(&m.selector.inv_scale, dims) || !r.Count(&mode_count, kMaxModes) || mode_count == 0) {
    return corrupt();
  }
  for (std::uint32_t j = 0; j < mode_count; ++j) {
    std::vector<float> c;
    if (!r.Floats(&c, dims)) return corrupt();
    m.selector.centroids.push_back(std::move(c));
  }
  const std::uint32_t features = m.feature_count();
  for (std::uint32_t j = 0; j < mode_count; ++j) {
    CloudMode mode;
    std::uint32_t layers = 0;
    if (!r.Floats(&mode.offset, features) || !r.Floats(&mode.inv_scale, features) ||
        !r.Count(&layers, kMaxLayers) || layers == 0) {
      return corrupt();
    }
    std::uint32_t width = features;
    for (std::uint32_t l = 0; l < layers; ++l) {
      std::uint32_t in = 0;
      std::uint32_t out = 0;
      std::uint32_t activation = 0;
      if (!r.Count(&in, kMaxDims) || in != width || !r.Count(&out, kMaxDims) || out == 0 ||
          !r.Count(&activation, 1) || static_cast<std::size_t>(in) * out * 4 > r.left()) {
        return corrupt();
      }
      FloatLayer layer;
      layer.weight.resize(out, in);
      layer.bias.resize(out);
      layer.activation = static_cast<core::Activation>(activation);
      if (!r.Floats(layer.weight.data(), static_cast<std::size_t>(in) * out) || !r.Floats(layer.bias.data(), out)) {
        return corrupt();
      }
      mode.autoencoder.layers.push_back(std::move(layer));
      width = out;
    }
    std::uint32_t bank = 0;
    if (width != features || !r.F32(&mode.autoencoder_scale) || !r.Count(&bank, kMaxBank) ||
        static_cast<std::size_t>(bank) * features * 4 > r.left()) {
      return corrupt();
    }
    mode.bank.resize(features, bank);
    if (!r.Floats(mode.bank.data(), static_cast<std::size_t>(bank) * features) || !r.F32(&mode.neighbour_scale)) {
      return corrupt();
    }
    mode.PrepareBank();
    m.modes.push_back(std::move(mode));
  }
  if (r.left() != 0) return corrupt();
  return R::Ok(std::move(m));
}

DataStatus SaveCloudModel(const CloudModel& model, const std::filesystem::path& path) {
  return WriteFileAtomically(path, EncodeCloudModel(model));
}

DataResult<CloudModel> LoadCloudModel(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return DataResult<CloudModel>::Fail("cannot open " + path.string() + ".");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(in.tellg());
  if (size > kMaxCloudBytes) return DataResult<CloudModel>::Fail(path.string() + " is too large for a cloud model.");
  in.seekg(0);
  std::vector<std::uint8_t> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (!in) return DataResult<CloudModel>::Fail("cannot read " + path.string() + ".");
  auto decoded = DecodeCloudModel(bytes);
  if (!decoded.ok()) decoded.error = path.string() + ": " + decoded.error;
  return decoded;
}

}  // namespace edgefleet::ml
