// Training a FloatNetwork autoencoder: minibatch Adam on the mean squared
// reconstruction error, with early stopping on a validation set.
//
// What it is for: the edge and cloud models are autoencoders trained on
// windows of normal vibration (one example per column, target = input). The
// backward pass is written by hand on Eigen, one matrix product per layer and
// batch; any depth, ReLU or linear layers.
//
// Loss: the mean over examples and features of the squared error, so the loss
// of a set is FloatNetwork::ReconstructionMse(set).mean(). With weight_decay
// the optimised objective adds (weight_decay / 2) * sum of squared weights
// (biases excluded), i.e. weight_decay * W is added to the weight gradients
// (classic coupled L2, as PyTorch's Adam does it); every loss this header
// reports is the reconstruction MSE alone.
//
// Determinism: the same network, data, options and seed give bit-identical
// weights. The only randomness is the per-epoch shuffle, a Fisher-Yates over
// std::mt19937_64 with its own bounded draw (std::shuffle and the std
// distributions are implementation-defined); there are no threads. The seed
// does not touch the initial weights: those are the caller's (MakeAutoencoder).
//
// Threads: the functions are reentrant; `net` is modified in place, so it must
// not be read by another thread while TrainAutoencoder runs.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ml/network.h"

namespace edgefleet::ml {

struct TrainOptions {
  int max_epochs = 200;  // <= 0: nothing is trained (epochs_run 0, not an error)
  int batch_size = 64;   // the last batch of an epoch holds the remainder
  float learning_rate = 1e-3f;
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-7f;
  float weight_decay = 0.0f;  // L2 on weights (not biases); see the header comment
  // Early stopping: training stops once `patience` consecutive epochs have not
  // improved the best validation loss by more than min_delta (relative: an
  // epoch improves when loss < best * (1 - min_delta)). patience <= 0 turns
  // early stopping off (every epoch runs; the best weights are still kept).
  int patience = 15;
  float min_delta = 1e-4f;
  std::uint64_t seed = 1;  // the shuffle's seed
};

struct EpochReport {
  int epoch;              // 1-based
  float train_loss;       // mean of the batch losses over the epoch, weighted by batch size
  float validation_loss;  // of the weights at the end of the epoch
  bool improved;          // became the new best (by the min_delta rule)
};

struct [[nodiscard]] TrainResult {
  int epochs_run = 0;
  int best_epoch = 0;  // 0 when no epoch produced a finite validation loss
  float best_validation_loss = 0.0f;  // NaN when best_epoch is 0
  // MSE on `train` of the network as returned (the best epoch's weights).
  float final_train_loss = 0.0f;
  bool stopped_early = false;  // ended before max_epochs: patience ran out, or the loss became non-finite
  std::string error;           // empty on success; otherwise one sentence and epochs_run is 0

  bool ok() const noexcept { return error.empty(); }
};

// Trains `net` in place on the columns of `train` and leaves it holding the
// weights of the best validation epoch (or its initial weights when no epoch
// had a finite validation loss). `progress` (may be empty) is called after
// every epoch.
//
// Never crashes on bad input: `net` empty or not a chain of consistent layers
// from n to n features, `train` or `validation` with no columns, a row count
// different from the network's width, a non-finite value in either set or in
// the network, or options out of range (batch_size <= 0, learning_rate or
// epsilon not finite and > 0, beta outside [0, 1), weight_decay or min_delta
// negative or not finite) give a result with `error` set, epochs_run 0 and
// `net` untouched. A run that diverges (non-finite training loss) stops there
// and returns the best weights seen, with ok() true.
TrainResult TrainAutoencoder(FloatNetwork& net, const Eigen::MatrixXf& train,
                             const Eigen::MatrixXf& validation, const TrainOptions& options,
                             const std::function<void(const EpochReport&)>& progress = {});

// The mean reconstruction MSE of `net` over the columns of `data`, computed in
// chunks of columns (no temporary larger than a chunk) and summed in double:
// ReconstructionMse(data).mean() up to rounding. NaN when `data` has no
// columns. Preconditions: `net` is a valid autoencoder for data.rows().
float MeanReconstructionMse(const FloatNetwork& net, const Eigen::MatrixXf& data);

// The loss of one batch and its gradient with respect to every parameter:
// what one training step computes, exposed so that it can be checked against
// finite differences. loss = MSE + (weight_decay / 2) * sum of squared weights.
struct LossGradient {
  float loss = 0.0f;
  std::vector<Eigen::MatrixXf> weight;  // same shapes as the layers' weights
  std::vector<Eigen::VectorXf> bias;
};
// Preconditions: `net` is a valid autoencoder for batch.rows(); batch.cols() > 0.
LossGradient ComputeLossGradient(const FloatNetwork& net, const Eigen::MatrixXf& batch,
                                 float weight_decay = 0.0f);

}  // namespace edgefleet::ml
