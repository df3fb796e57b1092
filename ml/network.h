// FloatNetwork: a dense float32 network (the autoencoders before
// quantization, the cloud model, and the float reference the int8 core is
// checked against), with Eigen doing the arithmetic.
//
// Layout: a batch is a matrix with one column per example. Layer weights are
// out x in, so a layer computes activation(W * x + b).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "core/artifact.h"

namespace edgefleet::ml {

struct FloatLayer {
  Eigen::MatrixXf weight;  // out x in
  Eigen::VectorXf bias;    // out
  core::Activation activation = core::Activation::kLinear;

  Eigen::Index in() const { return weight.cols(); }
  Eigen::Index out() const { return weight.rows(); }
};

struct FloatNetwork {
  std::vector<FloatLayer> layers;

  // Widths of every layer boundary: {in, hidden..., out}.
  std::vector<int> Shape() const;
  std::size_t ParameterCount() const;

  // Output for a batch (columns are examples).
  Eigen::MatrixXf Forward(const Eigen::MatrixXf& batch) const;

  // Every layer's output for a batch: activations[0] is the input,
  // activations[i + 1] the output of layer i.
  std::vector<Eigen::MatrixXf> ForwardAll(const Eigen::MatrixXf& batch) const;

  // Per-example reconstruction MSE (mean over rows) of an autoencoder.
  Eigen::VectorXf ReconstructionMse(const Eigen::MatrixXf& batch) const;
};

// He-initialised network of the given widths, ReLU on hidden layers and a
// linear output; deterministic for a seed.
FloatNetwork MakeAutoencoder(const std::vector<int>& widths, std::uint64_t seed);

}  // namespace edgefleet::ml
