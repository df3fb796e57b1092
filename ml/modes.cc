#include "ml/modes.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

namespace edgefleet::ml {
namespace {

// A uniform double in [0, 1) from mt19937_64, whose output the standard fixes
// (std::uniform_real_distribution is implementation-defined).
double Uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

struct Clustering {
  Eigen::MatrixXf centroids;  // dims x k, scaled space
  double inertia = std::numeric_limits<double>::infinity();
};

Clustering KMeans(const Eigen::MatrixXf& x, std::uint32_t k, std::mt19937_64& rng) {
  const Eigen::Index n = x.cols();
  Clustering c;
  c.centroids.resize(x.rows(), k);
  // k-means++ seeding: each next centroid drawn with probability ~ distance^2.
  Eigen::VectorXd nearest = Eigen::VectorXd::Constant(n, std::numeric_limits<double>::infinity());
  Eigen::Index pick = static_cast<Eigen::Index>(Uniform(rng) * static_cast<double>(n));
  for (std::uint32_t j = 0; j < k; ++j) {
    c.centroids.col(j) = x.col(pick);
    for (Eigen::Index i = 0; i < n; ++i) {
      nearest[i] = std::min(nearest[i], static_cast<double>((x.col(i) - c.centroids.col(j)).squaredNorm()));
    }
    const double total = nearest.sum();
    double target = Uniform(rng) * total;
    pick = n - 1;
    for (Eigen::Index i = 0; i < n; ++i) {
      target -= nearest[i];
      if (target < 0.0) {
        pick = i;
        break;
      }
    }
  }
  std::vector<std::uint32_t> assign(static_cast<std::size_t>(n), 0);
  for (int iteration = 0; iteration < 100; ++iteration) {
    bool changed = false;
    double inertia = 0.0;
    for (Eigen::Index i = 0; i < n; ++i) {
      Eigen::Index best = 0;
      const float d = (c.centroids.colwise() - x.col(i)).colwise().squaredNorm().minCoeff(&best);
      inertia += static_cast<double>(d);
      if (assign[static_cast<std::size_t>(i)] != best) changed = true;
      assign[static_cast<std::size_t>(i)] = static_cast<std::uint32_t>(best);
    }
    c.inertia = inertia;
    Eigen::MatrixXf sums = Eigen::MatrixXf::Zero(x.rows(), k);
    std::vector<int> counts(k, 0);
    for (Eigen::Index i = 0; i < n; ++i) {
      sums.col(assign[static_cast<std::size_t>(i)]) += x.col(i);
      ++counts[assign[static_cast<std::size_t>(i)]];
    }
    for (std::uint32_t j = 0; j < k; ++j) {
      if (counts[j] > 0) c.centroids.col(j) = sums.col(j) / static_cast<float>(counts[j]);
    }
    if (!changed && iteration > 0) break;
  }
  return c;
}

}  // namespace

ModeSelectorSpec FitModes(const Eigen::MatrixXf& features, const SpectrumSpecData& spectrum,
                          std::uint32_t modes, std::uint64_t seed) {
  const Eigen::Index dims = features.rows();
  const Eigen::VectorXf mean = features.rowwise().mean();
  const Eigen::VectorXf stddev =
      ((features.colwise() - mean).array().square().rowwise().mean()).sqrt().matrix();
  Eigen::VectorXf inv_scale(dims);
  for (Eigen::Index d = 0; d < dims; ++d) inv_scale[d] = stddev[d] > 1e-6f ? 1.0f / stddev[d] : 1.0f;
  const Eigen::MatrixXf scaled = inv_scale.asDiagonal() * features;

  std::mt19937_64 rng(seed);
  Clustering best;
  for (int restart = 0; restart < 8; ++restart) {
    Clustering c = KMeans(scaled, modes, rng);
    if (c.inertia < best.inertia) best = std::move(c);
  }
  // Order modes by energy (mean log magnitude), so mode numbers mean something.
  std::vector<std::uint32_t> order(modes);
  std::iota(order.begin(), order.end(), 0u);
  Eigen::VectorXf energy(modes);
  for (std::uint32_t j = 0; j < modes; ++j) {
    energy[j] = (best.centroids.col(j).array() / inv_scale.array()).mean();
  }
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return energy[a] < energy[b]; });

  ModeSelectorSpec selector;
  selector.spectrum = spectrum;
  selector.inv_scale.assign(inv_scale.data(), inv_scale.data() + dims);
  for (std::uint32_t j : order) {
    // The artifact stores centroids in unscaled units; the core scales the
    // difference (docs/model-format.md).
    Eigen::VectorXf centroid = best.centroids.col(j).array() / inv_scale.array();
    selector.centroids.emplace_back(centroid.data(), centroid.data() + dims);
  }
  return selector;
}

std::uint32_t NearestMode(const ModeSelectorSpec& selector, const float* features) {
  const std::size_t dims = selector.inv_scale.size();
  std::uint32_t best = 0;
  float best_distance = 0.0f;
  for (std::uint32_t m = 0; m < selector.centroids.size(); ++m) {
    const float* centroid = selector.centroids[m].data();
    float distance = 0.0f;
    for (std::size_t i = 0; i < dims; ++i) {
      const float d = (features[i] - centroid[i]) * selector.inv_scale[i];
      distance += d * d;
    }
    if (m == 0 || distance < best_distance) {
      best = m;
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace edgefleet::ml
