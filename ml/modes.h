// Operating modes recognised from the signal: k-means over a coarse log
// spectrum, scaled per dimension, giving the centroids of the artifact's mode
// selector (docs/model-format.md, MODE).
//
// The fan's normal class has four modes (off, low, medium, high) and a device
// is not told which it is in; the selector lets one artifact hold one
// detector part per mode.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "ml/artifact_writer.h"

namespace edgefleet::ml {

// Clusters the columns of `features` (one per window) into `modes` groups:
// dimensions scaled by 1 / their standard deviation, k-means++ seeding and
// Lloyd iterations, the best of several seeded restarts by inertia.
// Deterministic for a seed. Centroids are ordered by their mean log energy
// (for the fan: off, low, medium, high).
ModeSelectorSpec FitModes(const Eigen::MatrixXf& features, const SpectrumSpecData& spectrum,
                          std::uint32_t modes, std::uint64_t seed);

// The core's rule (nearest centroid in scaled space, first on ties, the same
// float arithmetic in the same order), for host code.
std::uint32_t NearestMode(const ModeSelectorSpec& selector, const float* features);

}  // namespace edgefleet::ml
