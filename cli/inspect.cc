#include "cli/inspect.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "core/artifact.h"
#include "core/detector.h"

namespace edgefleet::cli {
namespace {

const char* KindName(core::FeatureKind kind) {
  return kind == core::FeatureKind::kSpectrum ? "spectrum" : "time";
}

const char* WindowName(core::WindowFunction w) { return w == core::WindowFunction::kHann ? "hann" : "none"; }

}  // namespace

int InspectModel(const std::string& path, bool json) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "edgefleet: cannot open %s.\n", path.c_str());
    return 1;
  }
  // uint32 storage: artifacts are read in place and must be 4-byte aligned.
  const std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::uint32_t> storage(raw.size() / 4 + 1);
  std::copy(raw.begin(), raw.end(), reinterpret_cast<char*>(storage.data()));
  auto parsed = core::ParseArtifact(reinterpret_cast<const std::uint8_t*>(storage.data()), raw.size());
  if (!parsed.ok()) {
    std::fprintf(stderr, "edgefleet: %s is not a valid model artifact (%s).\n", path.c_str(),
                 core::ToString(parsed.status));
    return 1;
  }
  const core::ModelView& m = parsed.value;
  const core::Thresholds& t = m.thresholds;
  const std::size_t arena = core::RequiredArenaBytes(m);
  if (json) {
    std::printf("{\"file\":\"%s\",\"format_version\":%u,\"model_id\":\"%s\",\"model_version\":%u,"
                "\"size_bytes\":%zu,\"crc32\":\"%08x\",\"window_len\":%u,\"axes\":%u,\"sample_rate_hz\":%u,"
                "\"features\":{\"kind\":\"%s\",\"window\":\"%s\",\"count\":%u},\"modes\":%u,"
                "\"arena_bytes\":%zu,\"thresholds\":{\"mu\":%g,\"sigma\":%g,\"k_low\":%g,\"k_high\":%g,"
                "\"low\":%g,\"high\":%g},\"networks\":[",
                path.c_str(), m.format_version, m.model_id, m.model_version, m.size, m.crc32, m.window_len,
                m.axes, m.sample_rate_hz, KindName(m.preprocessing.kind), WindowName(m.preprocessing.window),
                m.preprocessing.feature_count, m.modes.mode_count, arena, static_cast<double>(t.mu),
                static_cast<double>(t.sigma), static_cast<double>(t.k_low), static_cast<double>(t.k_high),
                static_cast<double>(t.low), static_cast<double>(t.high));
    for (std::uint32_t n = 0; n < m.network_count; ++n) {
      std::printf("%s[", n ? "," : "");
      for (std::uint32_t l = 0; l < m.networks[n].layer_count; ++l) {
        const core::LayerView layer = core::GetLayer(m.networks[n], l);
        std::printf("%s{\"in\":%u,\"out\":%u,\"activation\":\"%s\"}", l ? "," : "", layer.in, layer.out,
                    layer.activation == core::Activation::kRelu ? "relu" : "linear");
      }
      std::printf("]");
    }
    std::printf("]}\n");
    return 0;
  }
  std::printf("%s: edgefleet model artifact, format %u\n", path.c_str(), m.format_version);
  std::printf("  model        %s version %u\n", m.model_id, m.model_version);
  std::printf("  size         %zu bytes, crc32 %08x\n", m.size, m.crc32);
  std::printf("  window       %u samples x %u axes at %u Hz\n", m.window_len, m.axes, m.sample_rate_hz);
  std::printf("  features     %s, %u values, window function %s", KindName(m.preprocessing.kind),
              m.preprocessing.feature_count, WindowName(m.preprocessing.window));
  if (m.preprocessing.kind == core::FeatureKind::kSpectrum) {
    std::printf(", %u bins per axis, log floor %g", m.preprocessing.spectrum.bin_count,
                static_cast<double>(m.preprocessing.spectrum.log_floor));
  }
  std::printf("\n  modes        %u%s\n", m.modes.mode_count,
              m.modes.mode_count > 1 ? " (recognised from the spectrum)" : "");
  for (std::uint32_t p = 0; p < m.part_count; ++p) {
    std::printf("  part %u       network %u, score scale %g, normalisation per %s\n", p, m.parts[p].network,
                static_cast<double>(m.parts[p].score_scale),
                m.parts[p].norm_count == m.axes ? "axis" : "feature");
  }
  for (std::uint32_t n = 0; n < m.network_count; ++n) {
    std::printf("  network %u    ", n);
    for (std::uint32_t l = 0; l < m.networks[n].layer_count; ++l) {
      const core::LayerView layer = core::GetLayer(m.networks[n], l);
      std::printf("%s%u", l ? "-" : "", layer.in);
      if (l + 1 == m.networks[n].layer_count) std::printf("-%u", layer.out);
    }
    std::printf(" int8\n");
  }
  std::printf("  thresholds   low %.6g, high %.6g (mu %.6g, sigma %.6g, k_low %g, k_high %g)\n",
              static_cast<double>(t.low), static_cast<double>(t.high), static_cast<double>(t.mu),
              static_cast<double>(t.sigma), static_cast<double>(t.k_low), static_cast<double>(t.k_high));
  std::printf("  arena        %zu bytes\n", arena);
  return 0;
}

}  // namespace edgefleet::cli
