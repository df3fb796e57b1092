#include "ml/quantize.h"

#include <algorithm>
#include <cmath>

namespace edgefleet::ml {
namespace {

constexpr std::int32_t kMaxAbsBias = 1 << 30;

std::int32_t RoundToInt(double v) { return static_cast<std::int32_t>(std::lround(v)); }

}  // namespace

ActivationParams ChooseActivationParams(float min, float max) {
  min = std::min(min, 0.0f);
  max = std::max(max, 0.0f);
  ActivationParams p;
  if (max - min < 1e-12f) return p;  // constant zero tensor: any scale works
  p.scale = (max - min) / 255.0f;
  p.zero_point = std::clamp(RoundToInt(-128.0 - static_cast<double>(min) / static_cast<double>(p.scale)), -128, 127);
  return p;
}

void QuantizeMultiplier(double real, std::int32_t* multiplier, std::int32_t* shift) {
  if (!(real > 0.0)) {
    *multiplier = 0;
    *shift = 0;
    return;
  }
  int exponent = 0;
  const double fraction = std::frexp(real, &exponent);  // real = fraction * 2^exponent
  auto q = static_cast<std::int64_t>(std::llround(fraction * 2147483648.0));
  if (q == (std::int64_t{1} << 31)) {
    q /= 2;
    ++exponent;
  }
  if (exponent < -31) {
    *multiplier = 0;
    *shift = 0;
    return;
  }
  if (exponent > 30) {  // saturate: such a layer is broken anyway
    q = 0x7FFFFFFF;
    exponent = 30;
  }
  *multiplier = static_cast<std::int32_t>(q);
  *shift = exponent;
}

std::vector<QuantizedLayer> QuantizeNetwork(const FloatNetwork& network,
                                            const Eigen::MatrixXf& calibration) {
  const std::vector<Eigen::MatrixXf> activations = network.ForwardAll(calibration);
  std::vector<ActivationParams> params;
  for (const Eigen::MatrixXf& a : activations) {
    params.push_back(a.size() == 0 ? ActivationParams{} : ChooseActivationParams(a.minCoeff(), a.maxCoeff()));
  }

  std::vector<QuantizedLayer> layers;
  for (std::size_t l = 0; l < network.layers.size(); ++l) {
    const FloatLayer& f = network.layers[l];
    QuantizedLayer q;
    q.in = static_cast<std::uint16_t>(f.in());
    q.out = static_cast<std::uint16_t>(f.out());
    q.activation = f.activation;
    q.input_scale = params[l].scale;
    q.input_zero_point = params[l].zero_point;
    q.output_scale = params[l + 1].scale;
    q.output_zero_point = params[l + 1].zero_point;
    q.weights.resize(static_cast<std::size_t>(q.out) * q.in);
    for (Eigen::Index c = 0; c < f.out(); ++c) {
      const float max_abs = f.weight.row(c).cwiseAbs().maxCoeff();
      const float w_scale = max_abs > 0.0f ? max_abs / 127.0f : 1.0f;
      q.weight_scale.push_back(w_scale);
      std::int64_t weight_sum = 0;
      for (Eigen::Index i = 0; i < f.in(); ++i) {
        const std::int32_t w = std::clamp(RoundToInt(static_cast<double>(f.weight(c, i) / w_scale)), -127, 127);
        q.weights[static_cast<std::size_t>(i * f.out() + c)] = static_cast<std::int8_t>(w);
        weight_sum += w;
      }
      // Folded bias: the zero point's contribution is constant per channel,
      // so the kernel's inner loop is a plain int8 dot product.
      const double acc_scale = static_cast<double>(q.input_scale) * static_cast<double>(w_scale);
      const std::int64_t bias = std::llround(static_cast<double>(f.bias(c)) / acc_scale) -
                                static_cast<std::int64_t>(q.input_zero_point) * weight_sum;
      q.bias.push_back(static_cast<std::int32_t>(std::clamp<std::int64_t>(bias, -kMaxAbsBias, kMaxAbsBias)));
      std::int32_t multiplier = 0;
      std::int32_t shift = 0;
      QuantizeMultiplier(acc_scale / static_cast<double>(q.output_scale), &multiplier, &shift);
      q.multiplier.push_back(multiplier);
      q.shift.push_back(static_cast<std::int8_t>(shift));
    }
    layers.push_back(std::move(q));
  }
  return layers;
}

float SimulateInt8Mse(const std::vector<QuantizedLayer>& layers, const Eigen::VectorXf& z) {
  const FloatNetwork real = Dequantize(layers);
  auto snap = [](float v, float scale, std::int32_t zero_point, float lowest) {
    const double q = std::clamp(std::round(static_cast<double>(v) / static_cast<double>(scale)) + zero_point,
                                static_cast<double>(lowest), 127.0);
    return static_cast<float>((q - zero_point) * static_cast<double>(scale));
  };
  Eigen::VectorXf x = z;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    x(i) = snap(x(i), layers[0].input_scale, layers[0].input_zero_point, -128.0f);
  }
  for (std::size_t l = 0; l < layers.size(); ++l) {
    Eigen::VectorXf y = real.layers[l].weight * x + real.layers[l].bias;
    if (l + 1 == layers.size()) {
      if (layers[l].activation == core::Activation::kRelu) y = y.cwiseMax(0.0f);
      return (y - z).squaredNorm() / static_cast<float>(z.size());
    }
    const float lowest = layers[l].activation == core::Activation::kRelu
                             ? static_cast<float>(layers[l].output_zero_point)
                             : -128.0f;
    for (Eigen::Index i = 0; i < y.size(); ++i) {
      y(i) = snap(y(i), layers[l].output_scale, layers[l].output_zero_point, lowest);
    }
    x = std::move(y);
  }
  return 0.0f;
}

FloatNetwork Dequantize(const std::vector<QuantizedLayer>& layers) {
  FloatNetwork net;
  for (const QuantizedLayer& q : layers) {
    FloatLayer f;
    f.weight.resize(q.out, q.in);
    f.bias.resize(q.out);
    f.activation = q.activation;
    for (int c = 0; c < q.out; ++c) {
      std::int64_t weight_sum = 0;
      for (int i = 0; i < q.in; ++i) {
        const std::int8_t w = q.weights[static_cast<std::size_t>(i) * q.out + static_cast<std::size_t>(c)];
        f.weight(c, i) = static_cast<float>(w) * q.weight_scale[static_cast<std::size_t>(c)];
        weight_sum += w;
      }
      const std::int64_t unfolded = q.bias[static_cast<std::size_t>(c)] +
                                    static_cast<std::int64_t>(q.input_zero_point) * weight_sum;
      f.bias(c) = static_cast<float>(static_cast<double>(unfolded) * static_cast<double>(q.input_scale) *
                                     static_cast<double>(q.weight_scale[static_cast<std::size_t>(c)]));
    }
    net.layers.push_back(std::move(f));
  }
  return net;
}

}  // namespace edgefleet::ml
