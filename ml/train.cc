#include "ml/train.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <utility>

namespace edgefleet::ml {
namespace {

// Columns per forward pass when evaluating a whole set: bounds the
// temporaries to (widest layer) x kEvalChunk floats.
constexpr Eigen::Index kEvalChunk = 512;

bool IsRelu(const FloatLayer& layer) { return layer.activation == core::Activation::kRelu; }

// Empty when `net` is a chain of consistent layers from `features` features
// back to `features`; otherwise why not.
std::string CheckShape(const FloatNetwork& net, Eigen::Index features) {
  if (net.layers.empty()) return "the network has no layers";
  Eigen::Index width = net.layers.front().in();
  if (width != features) {
    return "the network takes " + std::to_string(width) + " features but the data has " +
           std::to_string(features) + " rows";
  }
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    const FloatLayer& layer = net.layers[i];
    const std::string name = "layer " + std::to_string(i);
    if (layer.in() != width || layer.out() <= 0) return name + " does not follow the previous layer";
    if (layer.bias.size() != layer.out()) return name + " has a bias of the wrong size";
    if (layer.activation != core::Activation::kLinear && !IsRelu(layer)) {
      return name + " has an unknown activation";
    }
    width = layer.out();
  }
  if (width != features) return "the network's output width differs from its input width";
  return {};
}

bool AllFinite(const FloatNetwork& net) {
  return std::all_of(net.layers.begin(), net.layers.end(), [](const FloatLayer& layer) {
    return layer.weight.allFinite() && layer.bias.allFinite();
  });
}

std::string CheckOptions(const TrainOptions& o) {
  const auto positive = [](float v) { return std::isfinite(v) && v > 0.0f; };
  const auto unit = [](float v) { return v >= 0.0f && v < 1.0f; };  // false for NaN
  if (o.batch_size <= 0) return "batch_size must be positive";
  if (!positive(o.learning_rate)) return "learning_rate must be finite and positive";
  if (!unit(o.beta1) || !unit(o.beta2)) return "beta1 and beta2 must be in [0, 1)";
  if (!positive(o.epsilon)) return "epsilon must be finite and positive";
  if (!(std::isfinite(o.weight_decay) && o.weight_decay >= 0.0f)) {
    return "weight_decay must be finite and not negative";
  }
  if (!(std::isfinite(o.min_delta) && o.min_delta >= 0.0f)) {
    return "min_delta must be finite and not negative";
  }
  return {};
}

// Buffers of one training step, reused from batch to batch.
struct Workspace {
  std::vector<Eigen::MatrixXf> acts;  // acts[0] is the batch, acts[i + 1] layer i's output
  Eigen::MatrixXf delta;              // d loss / d (pre-activation) of the current layer
  Eigen::MatrixXf delta_below;
};

// Forward and backward pass over ws.acts[0]; fills `grad` (already sized)
// with the gradient of MSE + (weight_decay / 2) * |W|^2 and returns the
// batch's sum of squared reconstruction errors.
double ForwardBackward(const FloatNetwork& net, float weight_decay, Workspace& ws,
                       LossGradient& grad) {
  const std::size_t depth = net.layers.size();
  ws.acts.resize(depth + 1);
  for (std::size_t i = 0; i < depth; ++i) {
    const FloatLayer& layer = net.layers[i];
    Eigen::MatrixXf& out = ws.acts[i + 1];
    out.noalias() = layer.weight * ws.acts[i];
    out.colwise() += layer.bias;
    if (IsRelu(layer)) out = out.cwiseMax(0.0f);
  }

  ws.delta = ws.acts[depth] - ws.acts[0];
  const double sse = static_cast<double>(ws.delta.squaredNorm());
  const Eigen::Index count = ws.acts[0].rows() * ws.acts[0].cols();
  ws.delta *= 2.0f / static_cast<float>(count);

  for (std::size_t i = depth; i-- > 0;) {
    const FloatLayer& layer = net.layers[i];
    // ReLU passes the gradient where its output is positive (0 at the kink).
    if (IsRelu(layer)) ws.delta.array() *= (ws.acts[i + 1].array() > 0.0f).cast<float>();
    grad.weight[i].noalias() = ws.delta * ws.acts[i].transpose();
    if (weight_decay > 0.0f) grad.weight[i] += weight_decay * layer.weight;
    grad.bias[i] = ws.delta.rowwise().sum();
    if (i > 0) {
      ws.delta_below.noalias() = layer.weight.transpose() * ws.delta;
      std::swap(ws.delta, ws.delta_below);
    }
  }
  return sse;
}

void SizeLike(const FloatNetwork& net, LossGradient& grad) {
  grad.weight.clear();
  grad.bias.clear();
  for (const FloatLayer& layer : net.layers) {
    grad.weight.push_back(Eigen::MatrixXf::Zero(layer.out(), layer.in()));
    grad.bias.push_back(Eigen::VectorXf::Zero(layer.out()));
  }
}

double SumSquaredError(const FloatNetwork& net, const Eigen::MatrixXf& data) {
  double sse = 0.0;
  Eigen::MatrixXf h;
  Eigen::MatrixXf next;
  for (Eigen::Index start = 0; start < data.cols(); start += kEvalChunk) {
    const Eigen::Index n = std::min(kEvalChunk, data.cols() - start);
    h = data.middleCols(start, n);
    for (const FloatLayer& layer : net.layers) {
      next.noalias() = layer.weight * h;
      next.colwise() += layer.bias;
      if (IsRelu(layer)) next = next.cwiseMax(0.0f);
      std::swap(h, next);
    }
    sse += static_cast<double>((h - data.middleCols(start, n)).squaredNorm());
  }
  return sse;
}

// Uniform in [0, bound) for bound > 0, without modulo bias: draws below
// 2^64 mod bound are rejected, leaving a multiple of bound equally likely
// values. Fixed by the standard's definition of mt19937_64, unlike
// std::uniform_int_distribution.
std::uint64_t UniformBelow(std::mt19937_64& rng, std::uint64_t bound) {
  const std::uint64_t reject_below = (std::uint64_t{0} - bound) % bound;
  for (;;) {
    const std::uint64_t r = rng();
    if (r >= reject_below) return r % bound;
  }
}

void Shuffle(std::vector<Eigen::Index>& order, std::mt19937_64& rng) {
  for (std::size_t i = order.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(UniformBelow(rng, i));
    std::swap(order[i - 1], order[j]);
  }
}

struct AdamStep {
  float beta1, beta2, epsilon;
  float step;          // learning_rate / (1 - beta1^t)
  float inv_sqrt_bc2;  // 1 / sqrt(1 - beta2^t)
};

template <typename Param>
void AdamUpdate(Param& param, const Param& grad, Param& m, Param& v, const AdamStep& s) {
  m = s.beta1 * m + (1.0f - s.beta1) * grad;
  v = s.beta2 * v + (1.0f - s.beta2) * grad.cwiseAbs2();
  param.array() -= s.step * m.array() / (v.array().sqrt() * s.inv_sqrt_bc2 + s.epsilon);
}

}  // namespace

float MeanReconstructionMse(const FloatNetwork& net, const Eigen::MatrixXf& data) {
  assert(CheckShape(net, data.rows()).empty());
  if (data.cols() == 0) return std::numeric_limits<float>::quiet_NaN();
  const double count = static_cast<double>(data.rows()) * static_cast<double>(data.cols());
  return static_cast<float>(SumSquaredError(net, data) / count);
}

LossGradient ComputeLossGradient(const FloatNetwork& net, const Eigen::MatrixXf& batch,
                                 float weight_decay) {
  assert(CheckShape(net, batch.rows()).empty() && batch.cols() > 0);
  LossGradient grad;
  SizeLike(net, grad);
  Workspace ws;
  ws.acts.resize(net.layers.size() + 1);
  ws.acts[0] = batch;
  const double sse = ForwardBackward(net, weight_decay, ws, grad);
  double loss = sse / (static_cast<double>(batch.rows()) * static_cast<double>(batch.cols()));
  for (const FloatLayer& layer : net.layers) {
    loss += 0.5 * static_cast<double>(weight_decay) * static_cast<double>(layer.weight.squaredNorm());
  }
  grad.loss = static_cast<float>(loss);
  return grad;
}

TrainResult TrainAutoencoder(FloatNetwork& net, const Eigen::MatrixXf& train,
                             const Eigen::MatrixXf& validation, const TrainOptions& options,
                             const std::function<void(const EpochReport&)>& progress) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  TrainResult result;
  result.best_validation_loss = nan;
  result.final_train_loss = nan;
  const auto fail = [&](std::string why) {
    result.error = "TrainAutoencoder: " + std::move(why);
    return result;
  };

  if (std::string why = CheckOptions(options); !why.empty()) return fail(std::move(why));
  if (std::string why = CheckShape(net, train.rows()); !why.empty()) return fail(std::move(why));
  if (!AllFinite(net)) return fail("the network has a non-finite parameter");
  if (validation.rows() != train.rows()) {
    return fail("validation has " + std::to_string(validation.rows()) + " rows, train " +
                std::to_string(train.rows()));
  }
  if (train.cols() == 0) return fail("the training set is empty");
  if (validation.cols() == 0) return fail("the validation set is empty");
  if (!train.allFinite()) return fail("the training set has a non-finite value");
  if (!validation.allFinite()) return fail("the validation set has a non-finite value");

  const std::size_t depth = net.layers.size();
  const Eigen::Index features = train.rows();
  const Eigen::Index examples = train.cols();
  const Eigen::Index batch_size = std::min<Eigen::Index>(options.batch_size, examples);
  const double train_count = static_cast<double>(features) * static_cast<double>(examples);

  LossGradient grad;
  SizeLike(net, grad);
  LossGradient m;  // Adam's first and second moments, shaped like the gradient
  LossGradient v;
  SizeLike(net, m);
  SizeLike(net, v);
  Workspace ws;
  ws.acts.resize(depth + 1);

  std::vector<Eigen::Index> order(static_cast<std::size_t>(examples));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<Eigen::Index>(i);
  std::mt19937_64 rng(options.seed);

  FloatNetwork best = net;
  float best_loss = std::numeric_limits<float>::infinity();
  int epochs_since_best = 0;
  std::int64_t step = 0;

  for (int epoch = 1; epoch <= options.max_epochs; ++epoch) {
    Shuffle(order, rng);
    double epoch_sse = 0.0;
    for (Eigen::Index start = 0; start < examples; start += batch_size) {
      const Eigen::Index n = std::min(batch_size, examples - start);
      Eigen::MatrixXf& x = ws.acts[0];
      x.resize(features, n);
      for (Eigen::Index j = 0; j < n; ++j) x.col(j) = train.col(order[static_cast<std::size_t>(start + j)]);

      epoch_sse += ForwardBackward(net, options.weight_decay, ws, grad);

      ++step;
      const double t = static_cast<double>(step);
      const AdamStep s{
          options.beta1, options.beta2, options.epsilon,
          static_cast<float>(static_cast<double>(options.learning_rate) /
                             (1.0 - std::pow(static_cast<double>(options.beta1), t))),
          static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(static_cast<double>(options.beta2), t)))};
      for (std::size_t i = 0; i < depth; ++i) {
        AdamUpdate(net.layers[i].weight, grad.weight[i], m.weight[i], v.weight[i], s);
        AdamUpdate(net.layers[i].bias, grad.bias[i], m.bias[i], v.bias[i], s);
      }
    }

    EpochReport report{};
    report.epoch = epoch;
    report.train_loss = static_cast<float>(epoch_sse / train_count);
    report.validation_loss = MeanReconstructionMse(net, validation);
    // NaN compares false, so a diverged epoch never becomes the best.
    report.improved = report.validation_loss < best_loss * (1.0f - options.min_delta) ||
                      (result.best_epoch == 0 && std::isfinite(report.validation_loss));
    if (report.improved) {
      best = net;
      best_loss = report.validation_loss;
      result.best_epoch = epoch;
      epochs_since_best = 0;
    } else {
      ++epochs_since_best;
    }
    result.epochs_run = epoch;
    if (progress) progress(report);

    const bool diverged = !std::isfinite(report.train_loss);
    const bool patience_out = options.patience > 0 && epochs_since_best >= options.patience;
    if ((diverged || patience_out) && epoch < options.max_epochs) {
      result.stopped_early = true;
      break;
    }
  }

  net = std::move(best);
  if (result.best_epoch > 0) result.best_validation_loss = best_loss;
  result.final_train_loss = MeanReconstructionMse(net, train);
  return result;
}

}  // namespace edgefleet::ml
