#include "ml/network.h"

#include <cmath>
#include <random>

namespace edgefleet::ml {

std::vector<int> FloatNetwork::Shape() const {
  std::vector<int> shape;
  if (layers.empty()) return shape;
  shape.push_back(static_cast<int>(layers.front().in()));
  for (const FloatLayer& layer : layers) shape.push_back(static_cast<int>(layer.out()));
  return shape;
}

std::size_t FloatNetwork::ParameterCount() const {
  std::size_t count = 0;
  for (const FloatLayer& layer : layers) {
    count += static_cast<std::size_t>(layer.weight.size() + layer.bias.size());
  }
  return count;
}

std::vector<Eigen::MatrixXf> FloatNetwork::ForwardAll(const Eigen::MatrixXf& batch) const {
  std::vector<Eigen::MatrixXf> activations;
  activations.reserve(layers.size() + 1);
  activations.push_back(batch);
  for (const FloatLayer& layer : layers) {
    Eigen::MatrixXf next = layer.weight * activations.back();
    next.colwise() += layer.bias;
    if (layer.activation == core::Activation::kRelu) next = next.cwiseMax(0.0f);
    activations.push_back(std::move(next));
  }
  return activations;
}

Eigen::MatrixXf FloatNetwork::Forward(const Eigen::MatrixXf& batch) const {
  Eigen::MatrixXf h = batch;
  for (const FloatLayer& layer : layers) {
    Eigen::MatrixXf next = layer.weight * h;
    next.colwise() += layer.bias;
    if (layer.activation == core::Activation::kRelu) next = next.cwiseMax(0.0f);
    h = std::move(next);
  }
  return h;
}

Eigen::VectorXf FloatNetwork::ReconstructionMse(const Eigen::MatrixXf& batch) const {
  const Eigen::MatrixXf error = Forward(batch) - batch;
  return error.colwise().squaredNorm().transpose() / static_cast<float>(batch.rows());
}

namespace {

// Box-Muller over std::mt19937_64, whose output the standard fixes exactly:
// std::normal_distribution is implementation-defined, and the same seed must
// give the same artifact bytes on every platform.
class Normal {
 public:
  explicit Normal(std::uint64_t seed) : rng_(seed) {}
  float operator()(float stddev) {
    const double u1 = (static_cast<double>(rng_() >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2)) * stddev;
  }

 private:
  std::mt19937_64 rng_;
};

}  // namespace

FloatNetwork MakeAutoencoder(const std::vector<int>& widths, std::uint64_t seed) {
  FloatNetwork net;
  Normal normal(seed);
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
    FloatLayer layer;
    const int in = widths[i];
    const int out = widths[i + 1];
    const float stddev = std::sqrt(2.0f / static_cast<float>(in));
    layer.weight.resize(out, in);
    for (int r = 0; r < out; ++r) {
      for (int c = 0; c < in; ++c) layer.weight(r, c) = normal(stddev);
    }
    layer.bias = Eigen::VectorXf::Zero(out);
    layer.activation = i + 2 < widths.size() ? core::Activation::kRelu : core::Activation::kLinear;
    net.layers.push_back(std::move(layer));
  }
  return net;
}

}  // namespace edgefleet::ml
