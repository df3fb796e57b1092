// Post-training int8 quantization of a FloatNetwork for the core.
//
// Weights: symmetric, one scale per output channel (max |w| / 127).
// Activations: asymmetric, one scale and zero point per tensor, from the
// min and max the float network produces on calibration inputs (the range
// always includes 0, so zero is exact). Requantization multipliers and the
// folded biases are computed as docs/model-format.md defines them.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "ml/artifact_writer.h"
#include "ml/network.h"

namespace edgefleet::ml {

struct ActivationParams {
  float scale = 1.0f;
  std::int32_t zero_point = 0;
};

// Scale and zero point covering [min, max] (widened to include 0) with int8.
ActivationParams ChooseActivationParams(float min, float max);

// real = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31) (or 0 for a
// real too small to represent, which makes the channel output its zero point).
void QuantizeMultiplier(double real, std::int32_t* multiplier, std::int32_t* shift);

// `calibration` holds one normalised input per column.
std::vector<QuantizedLayer> QuantizeNetwork(const FloatNetwork& network,
                                            const Eigen::MatrixXf& calibration);

// The int8 path computed in float (fake quantization): quantize the input,
// run each layer on dequantized values, requantize hidden outputs to their
// int8 grid, dequantize the last layer from its accumulator. Returns the
// reconstruction MSE against `z`. The core's kernel must agree with this up
// to rounding; it is the reference that isolates kernel bugs from the
// (expected) error of quantization itself.
float SimulateInt8Mse(const std::vector<QuantizedLayer>& layers, const Eigen::VectorXf& z);

// The float network an int8 one stands for (weights and biases dequantized):
// lets tests separate rounding of weights from rounding of activations.
FloatNetwork Dequantize(const std::vector<QuantizedLayer>& layers);

}  // namespace edgefleet::ml
