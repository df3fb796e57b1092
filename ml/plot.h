// A small SVG plot writer: line and scatter series, horizontal reference
// lines and highlighted points, for reports such as the zone sweep
// ("escalation rate vs F1", with the edge-only and cloud-only F1 as
// reference lines and the chosen default as a marker).
//
// The output is a standalone SVG 1.1 document: axes with about 5 to 10 ticks
// at round values, a light grid, title and axis labels, a legend to the right
// of the plot, and one colour per entry from a colour-blind-friendly palette.
// Every text is XML-escaped; numbers are written locale-independently, so the
// same spec always gives the same bytes.
//
// Data: non-finite points are skipped (a line breaks there), empty series
// still get a legend entry, and drawing is clipped to the plot area. Ranges
// not given (or not finite with lo < hi) are taken from the data, including
// the reference lines and markers, and widened to the outer ticks.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace edgefleet::ml {

struct PlotSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in this order
  bool lines = true;
  bool markers = true;
};

struct PlotHLine {  // a horizontal reference line across the plot (dashed)
  std::string name;
  double y;
};

struct PlotMarker {  // a highlighted point (a large diamond)
  std::string name;
  double x, y;
};

struct PlotSpec {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
  std::vector<PlotHLine> hlines;
  std::vector<PlotMarker> markers;
  std::optional<std::pair<double, double>> x_range, y_range;  // (lo, hi); exact when given
  int width = 800, height = 500;  // pixels; clamped to [240, 8000] x [180, 8000]
};

// The SVG document for `spec`.
std::string RenderSvg(const PlotSpec& spec);

}  // namespace edgefleet::ml
