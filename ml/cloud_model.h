// The cloud detector: larger and more accurate than the edge model, run by the
// server on escalated windows (SPEC section 2).
//
// It recognises the operating mode like the edge artifact (same selector), then
// scores the window's spectral features, normalised within that mode, with two
// float detectors whose scores are each divided by the mode's typical training
// value and added:
//   - an autoencoder's reconstruction MSE (wider than the edge's, float32), and
//   - the mean squared distance to the k nearest stored normal training
//     windows of that mode (nearest neighbours over stored normal features,
//     as SPEC section 2 allows).
// A window is an anomaly when its score exceeds `threshold`.
//
// File format (docs/model-format.md, "Cloud model"): "EFCM", version, payload
// size, CRC-32 of the payload, then a little-endian payload. Load() checks
// every size against the bytes present before allocating; a damaged file is
// refused with one sentence, never half-loaded.
//
// Thread safety: a loaded CloudModel is immutable; Score() and ScoreBatch()
// may run on any number of threads, each with its own CloudScratch.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "ml/artifact_writer.h"
#include "ml/bank_products.h"
#include "ml/dataset.h"
#include "ml/features.h"
#include "ml/network.h"

namespace edgefleet::ml {

inline constexpr std::uint16_t kCloudFormatVersion = 1;

struct CloudMode {
  std::vector<float> offset;     // [features]
  std::vector<float> inv_scale;  // [features]
  FloatNetwork autoencoder;
  float autoencoder_scale = 1.0f;  // 1 / typical training MSE of this mode
  Eigen::MatrixXf bank;            // features x stored normal windows (normalised)
  float neighbour_scale = 1.0f;    // 1 / typical training neighbour distance
  // Derived from the bank, not stored in the file (PrepareBank):
  // - the squared norms of its columns: distances become one matrix product,
  //   |b|^2 - 2 b.z + |z|^2;
  // - the bank in panels for the AVX2 kernel of that product
  //   (ml/bank_products.h; empty where it cannot run).
  Eigen::VectorXf bank_norms;
  BankPanels bank_panels;

  void PrepareBank() {
    bank_norms = bank.colwise().squaredNorm().transpose();
    bank_panels = BankPanels::From(bank);
  }
};

struct CloudModel {
  std::uint32_t version = 1;
  std::uint32_t window_len = 100;
  std::uint32_t axes = 3;
  std::uint32_t neighbours = 5;
  SpectrumSpecData spectrum;
  ModeSelectorSpec selector;
  std::vector<CloudMode> modes;
  float threshold = 0.0f;

  std::uint32_t feature_count() const { return axes * spectrum.bin_count(); }
  std::size_t ParameterCount() const;
};

struct CloudScore {
  float score = 0.0f;
  std::uint32_t mode = 0;
  bool anomaly = false;  // score > the model's threshold
};

// Scores one interleaved window (window_len * axes values, in g). The caller
// validates the values (finite, bounded) before.
CloudScore Score(const CloudModel& model, SpectralFeatures& features, std::span<const float> window);

// Scores many windows at once (columns of `windows`, each window_len * axes
// values): one matrix product per mode instead of one per window.
std::vector<CloudScore> ScoreBatch(const CloudModel& model, SpectralFeatures& features,
                                   const Eigen::MatrixXf& windows);

std::vector<std::uint8_t> EncodeCloudModel(const CloudModel& model);
DataResult<CloudModel> DecodeCloudModel(std::span<const std::uint8_t> bytes);
DataStatus SaveCloudModel(const CloudModel& model, const std::filesystem::path& path);
DataResult<CloudModel> LoadCloudModel(const std::filesystem::path& path);

}  // namespace edgefleet::ml
