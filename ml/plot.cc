#include "ml/plot.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <string_view>
#include <system_error>

namespace edgefleet::ml {
namespace {

// matplotlib's "tab10": distinct hues that stay apart for colour-blind readers.
constexpr std::array<std::string_view, 10> kPalette = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

constexpr double kFontSize = 12.0;
constexpr double kCharWidth = 7.0;  // rough advance of a 12 px sans-serif glyph
constexpr double kTickLength = 5.0;
constexpr double kLegendRow = 20.0;
constexpr double kLegendSwatch = 28.0;

std::string_view Colour(std::size_t index) { return kPalette[index % kPalette.size()]; }

// Text content and attribute values: the five XML specials, and control
// characters (not allowed in XML 1.0) dropped.
std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;
    }
  }
  return out;
}

// UTF-8 code points, to estimate how wide a text is drawn.
double TextWidth(std::string_view text) {
  const auto glyphs = std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  });
  return static_cast<double>(glyphs) * kCharWidth;
}

// A coordinate with two decimals, independent of the locale, no "-0".
// Points far outside a given range land far off the canvas (and are clipped);
// they are pulled in to +-1e7 px so that the number stays a valid SVG number.
std::string Num(double v) {
  constexpr double kFar = 1e7;
  v = std::isnan(v) ? 0.0 : std::clamp(v, -kFar, kFar);
  v = std::round(v * 100.0) / 100.0;
  if (v == 0.0) v = 0.0;
  std::array<char, 64> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v,
                                       std::chars_format::fixed, 2);
  if (ec != std::errc{}) return "0";
  std::string s(buf.data(), end);
  // Trim "12.50" to "12.5" and "12.00" to "12": shorter, same value.
  s.erase(s.find_last_not_of('0') + 1);
  if (s.back() == '.') s.pop_back();
  return s;
}

struct Axis {
  double lo = 0.0, hi = 1.0;
  std::vector<double> ticks;
  std::vector<std::string> labels;
};

std::string TickLabel(double v, int decimals) {
  std::array<char, 64> buf{};
  std::to_chars_result r{};
  if (decimals <= 9 && std::fabs(v) < 1e12) {
    r = std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::fixed, decimals);
  } else {
    r = std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::general, 6);
  }
  if (r.ec != std::errc{}) return "?";
  return std::string(buf.data(), r.ptr);
}

// Round ticks (1, 2, 2.5 or 5 times a power of ten) over [lo, hi]: between 5
// and 10 of them, as near 6 or 7 as the choice allows. With `extend` the axis
// grows to the outer ticks; otherwise it stays [lo, hi] and the ticks fall inside.
Axis MakeAxis(double lo, double hi, bool extend) {
  const double span = hi - lo;
  const int exponent = static_cast<int>(std::floor(std::log10(span)));
  constexpr std::array<double, 4> kMantissas = {1.0, 2.0, 2.5, 5.0};
  double best_step = 0.0;
  double best_score = 1e300;
  int best_decimals = 0;
  for (int k = exponent - 2; k <= exponent + 1; ++k) {
    for (const double m : kMantissas) {
      const double step = m * std::pow(10.0, k);
      const double first = extend ? std::floor(lo / step + 1e-9) : std::ceil(lo / step - 1e-9);
      const double last = extend ? std::ceil(hi / step - 1e-9) : std::floor(hi / step + 1e-9);
      const double count = last - first + 1.0;
      double score = std::fabs(count - 6.5) + (m == 2.5 ? 1.0 : 0.0);  // 2.5 reads worse
      if (count < 5.0 || count > 10.0) score += 100.0;
      if (score < best_score) {
        best_score = score;
        best_step = step;
        best_decimals = std::max(0, -k + (m == 2.5 ? 1 : 0));
      }
    }
  }
  Axis axis;
  const double first = extend ? std::floor(lo / best_step + 1e-9) : std::ceil(lo / best_step - 1e-9);
  const double last = extend ? std::ceil(hi / best_step - 1e-9) : std::floor(hi / best_step + 1e-9);
  axis.lo = extend ? first * best_step : lo;
  axis.hi = extend ? last * best_step : hi;
  for (double i = first; i <= last; i += 1.0) {
    double v = i * best_step;
    if (std::fabs(v) < best_step * 1e-9) v = 0.0;
    axis.ticks.push_back(v);
    axis.labels.push_back(TickLabel(v, best_decimals));
  }
  return axis;
}

// A span that ticks can divide: finite, and wide enough against the values'
// magnitude that round steps stay distinct in double.
bool UsableSpan(double lo, double hi) {
  const double span = hi - lo;
  return std::isfinite(span) && span > 1e-200 && span > std::max(std::fabs(lo), std::fabs(hi)) * 1e-9;
}

// The range of `values` (finite ones), or `given` when it is usable.
Axis ChooseAxis(const std::vector<double>& values,
                const std::optional<std::pair<double, double>>& given) {
  if (given && UsableSpan(given->first, given->second)) {
    return MakeAxis(given->first, given->second, false);
  }
  double lo = 0.0;
  double hi = 1.0;
  if (!values.empty()) {
    const auto [min, max] = std::minmax_element(values.begin(), values.end());
    lo = *min;
    hi = *max;
  }
  if (!UsableSpan(lo, hi) && std::isfinite(hi - lo)) {  // one value, or nearly: centre it
    const double centre = lo / 2.0 + hi / 2.0;
    const double pad = centre == 0.0 ? 1.0 : std::fabs(centre) * 0.1;
    lo = centre - pad;
    hi = centre + pad;
  }
  if (!UsableSpan(lo, hi)) {  // beyond double, or tiny beyond use: nothing sensible to draw
    lo = 0.0;
    hi = 1.0;
  }
  return MakeAxis(lo, hi, true);
}

class SvgWriter {
 public:
  void Open(std::string_view tag, std::string_view attributes) {
    out_ += '<';
    out_ += tag;
    if (!attributes.empty()) {
      out_ += ' ';
      out_ += attributes;
    }
    out_ += ">\n";
  }
  void Close(std::string_view tag) {
    out_ += "</";
    out_ += tag;
    out_ += ">\n";
  }
  void Empty(std::string_view tag, std::string_view attributes) {
    out_ += '<';
    out_ += tag;
    out_ += ' ';
    out_ += attributes;
    out_ += "/>\n";
  }
  void Text(std::string_view attributes, std::string_view text) {
    out_ += "<text ";
    out_ += attributes;
    out_ += '>';
    out_ += Escape(text);
    out_ += "</text>\n";
  }
  void Raw(std::string_view text) { out_ += text; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string Attr(std::string_view name, std::string_view value) {
  std::string s(name);
  s += "=\"";
  s += value;
  s += "\" ";
  return s;
}
std::string Attr(std::string_view name, double value) { return Attr(name, Num(value)); }

std::string Diamond(double x, double y, double r) {
  return "M" + Num(x) + "," + Num(y - r) + " L" + Num(x + r) + "," + Num(y) + " L" + Num(x) + "," +
         Num(y + r) + " L" + Num(x - r) + "," + Num(y) + " Z";
}

bool Finite(const std::pair<double, double>& p) {
  return std::isfinite(p.first) && std::isfinite(p.second);
}

}  // namespace

std::string RenderSvg(const PlotSpec& spec) {
  const double width = std::clamp(spec.width, 240, 8000);
  const double height = std::clamp(spec.height, 180, 8000);

  std::vector<double> xs;
  std::vector<double> ys;
  for (const PlotSeries& series : spec.series) {
    for (const auto& p : series.points) {
      if (!Finite(p)) continue;
      xs.push_back(p.first);
      ys.push_back(p.second);
    }
  }
  for (const PlotHLine& line : spec.hlines) {
    if (std::isfinite(line.y)) ys.push_back(line.y);
  }
  for (const PlotMarker& marker : spec.markers) {
    if (!std::isfinite(marker.x) || !std::isfinite(marker.y)) continue;
    xs.push_back(marker.x);
    ys.push_back(marker.y);
  }
  const Axis x_axis = ChooseAxis(xs, spec.x_range);
  const Axis y_axis = ChooseAxis(ys, spec.y_range);

  // Layout: title on top, tick labels and the axis labels outside the frame,
  // the legend in a column to the right.
  const std::size_t entries = spec.series.size() + spec.hlines.size() + spec.markers.size();
  double legend_width = 0.0;
  for (const PlotSeries& s : spec.series) legend_width = std::max(legend_width, TextWidth(s.name));
  for (const PlotHLine& h : spec.hlines) legend_width = std::max(legend_width, TextWidth(h.name));
  for (const PlotMarker& m : spec.markers) legend_width = std::max(legend_width, TextWidth(m.name));
  legend_width = entries == 0 ? 0.0 : std::min(legend_width + kLegendSwatch + 12.0, width / 3.0);
  double y_label_width = 0.0;
  for (const std::string& label : y_axis.labels) y_label_width = std::max(y_label_width, TextWidth(label));

  const double top = spec.title.empty() ? 20.0 : 46.0;
  const double bottom = spec.x_label.empty() ? 34.0 : 56.0;
  const double left = (spec.y_label.empty() ? 12.0 : 34.0) + y_label_width + kTickLength + 6.0;
  const double right = entries == 0 ? 20.0 : legend_width + 28.0;
  const double px0 = left;
  const double px1 = std::max(px0 + 40.0, width - right);
  const double py0 = top;
  const double py1 = std::max(py0 + 40.0, height - bottom);
  const auto X = [&](double x) { return px0 + (x - x_axis.lo) / (x_axis.hi - x_axis.lo) * (px1 - px0); };
  const auto Y = [&](double y) { return py1 - (y - y_axis.lo) / (y_axis.hi - y_axis.lo) * (py1 - py0); };
  // Lines one pixel wide sit on half pixels to stay crisp.
  const auto Crisp = [](double v) { return std::floor(v) + 0.5; };

  SvgWriter svg;
  svg.Raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  svg.Open("svg", "xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" " + Attr("width", width) +
                      Attr("height", height) + "viewBox=\"0 0 " + Num(width) + " " + Num(height) +
                      "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"" +
                      Num(kFontSize) + "\"");
  svg.Open("title", "");
  svg.Raw(Escape(spec.title) + "\n");
  svg.Close("title");
  svg.Empty("rect", "width=\"100%\" height=\"100%\" fill=\"white\"");
  svg.Open("defs", "");
  svg.Open("clipPath", "id=\"plot-area\"");
  // Padded so that markers on the frame (a value at the end of a range) show whole.
  constexpr double kClipPad = 6.0;
  svg.Empty("rect", Attr("x", px0 - kClipPad) + Attr("y", py0 - kClipPad) + Attr("width", px1 - px0 + 2.0 * kClipPad) +
                        Attr("height", py1 - py0 + 2.0 * kClipPad));
  svg.Close("clipPath");
  svg.Close("defs");

  // Grid, frame, ticks and their labels.
  svg.Open("g", "stroke=\"#e6e6e6\" stroke-width=\"1\"");
  for (const double t : x_axis.ticks) {
    const double x = Crisp(X(t));
    svg.Empty("line", Attr("x1", x) + Attr("y1", py0) + Attr("x2", x) + Attr("y2", py1));
  }
  for (const double t : y_axis.ticks) {
    const double y = Crisp(Y(t));
    svg.Empty("line", Attr("x1", px0) + Attr("y1", y) + Attr("x2", px1) + Attr("y2", y));
  }
  svg.Close("g");
  svg.Open("g", "stroke=\"#444444\" stroke-width=\"1\"");
  svg.Empty("rect", Attr("x", Crisp(px0)) + Attr("y", Crisp(py0)) + Attr("width", std::floor(px1) - std::floor(px0)) +
                        Attr("height", std::floor(py1) - std::floor(py0)) + "fill=\"none\"");
  for (const double t : x_axis.ticks) {
    const double x = Crisp(X(t));
    svg.Empty("line", Attr("x1", x) + Attr("y1", Crisp(py1)) + Attr("x2", x) + Attr("y2", Crisp(py1) + kTickLength));
  }
  for (const double t : y_axis.ticks) {
    const double y = Crisp(Y(t));
    svg.Empty("line", Attr("x1", Crisp(px0) - kTickLength) + Attr("y1", y) + Attr("x2", Crisp(px0)) + Attr("y2", y));
  }
  svg.Close("g");
  svg.Open("g", "fill=\"#333333\"");
  for (std::size_t i = 0; i < x_axis.ticks.size(); ++i) {
    svg.Text("class=\"x-tick\" " + Attr("x", X(x_axis.ticks[i])) + Attr("y", py1 + kTickLength + 14.0) +
                 "text-anchor=\"middle\"",
             x_axis.labels[i]);
  }
  for (std::size_t i = 0; i < y_axis.ticks.size(); ++i) {
    svg.Text("class=\"y-tick\" " + Attr("x", px0 - kTickLength - 4.0) + Attr("y", Y(y_axis.ticks[i]) + 4.0) +
                 "text-anchor=\"end\"",
             y_axis.labels[i]);
  }
  svg.Close("g");

  if (!spec.title.empty()) {
    svg.Text(Attr("x", (px0 + px1) / 2.0) + Attr("y", 28.0) +
                 "text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\" fill=\"#222222\"",
             spec.title);
  }
  if (!spec.x_label.empty()) {
    svg.Text(Attr("x", (px0 + px1) / 2.0) + Attr("y", py1 + kTickLength + 38.0) +
                 "text-anchor=\"middle\" font-size=\"13\" fill=\"#222222\"",
             spec.x_label);
  }
  if (!spec.y_label.empty()) {
    const double x = 18.0;
    const double y = (py0 + py1) / 2.0;
    svg.Text(Attr("x", x) + Attr("y", y) + "transform=\"rotate(-90 " + Num(x) + " " + Num(y) +
                 ")\" text-anchor=\"middle\" font-size=\"13\" fill=\"#222222\"",
             spec.y_label);
  }

  // The data, clipped to the frame: reference lines under the series, the
  // highlighted points on top.
  std::size_t colour = 0;
  std::vector<std::string_view> series_colour;
  for (std::size_t i = 0; i < spec.series.size(); ++i) series_colour.push_back(Colour(colour++));
  std::vector<std::string_view> hline_colour;
  for (std::size_t i = 0; i < spec.hlines.size(); ++i) hline_colour.push_back(Colour(colour++));
  std::vector<std::string_view> marker_colour;
  for (std::size_t i = 0; i < spec.markers.size(); ++i) marker_colour.push_back(Colour(colour++));

  svg.Open("g", "clip-path=\"url(#plot-area)\"");
  for (std::size_t i = 0; i < spec.hlines.size(); ++i) {
    const PlotHLine& line = spec.hlines[i];
    if (!std::isfinite(line.y)) continue;
    svg.Empty("line", Attr("x1", px0) + Attr("y1", Y(line.y)) + Attr("x2", px1) + Attr("y2", Y(line.y)) +
                          Attr("stroke", hline_colour[i]) + "stroke-width=\"1.5\" stroke-dasharray=\"7 4\"");
  }
  for (std::size_t i = 0; i < spec.series.size(); ++i) {
    const PlotSeries& series = spec.series[i];
    if (series.lines) {
      // One polyline per run of finite points: a non-finite point breaks the line.
      std::string points;
      std::size_t run = 0;
      const auto flush = [&] {
        if (run >= 2) {
          svg.Empty("polyline", Attr("points", points) + "fill=\"none\" " + Attr("stroke", series_colour[i]) +
                                    "stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"");
        }
        points.clear();
        run = 0;
      };
      for (const auto& p : series.points) {
        if (!Finite(p)) {
          flush();
          continue;
        }
        if (run > 0) points += ' ';
        points += Num(X(p.first)) + "," + Num(Y(p.second));
        ++run;
      }
      flush();
    }
    if (series.markers) {
      svg.Open("g", Attr("fill", series_colour[i]) + "stroke=\"white\" stroke-width=\"1\"");
      for (const auto& p : series.points) {
        if (!Finite(p)) continue;
        svg.Empty("circle", Attr("cx", X(p.first)) + Attr("cy", Y(p.second)) + "r=\"3.5\"");
      }
      svg.Close("g");
    }
  }
  for (std::size_t i = 0; i < spec.markers.size(); ++i) {
    const PlotMarker& marker = spec.markers[i];
    if (!std::isfinite(marker.x) || !std::isfinite(marker.y)) continue;
    svg.Empty("path", Attr("d", Diamond(X(marker.x), Y(marker.y), 8.0)) + Attr("fill", marker_colour[i]) +
                          "stroke=\"#222222\" stroke-width=\"1.5\"");
  }
  svg.Close("g");

  // Legend: one row per entry, in the order series, reference lines, markers.
  if (entries > 0) {
    const double lx = px1 + 20.0;
    double ly = py0 + 10.0;
    svg.Open("g", "fill=\"#222222\"");
    for (std::size_t i = 0; i < spec.series.size(); ++i, ly += kLegendRow) {
      const PlotSeries& series = spec.series[i];
      if (series.lines || !series.markers) {
        svg.Empty("line", Attr("x1", lx) + Attr("y1", ly) + Attr("x2", lx + kLegendSwatch - 6.0) + Attr("y2", ly) +
                              Attr("stroke", series_colour[i]) + "stroke-width=\"2\"");
      }
      if (series.markers) {
        svg.Empty("circle", Attr("cx", lx + (kLegendSwatch - 6.0) / 2.0) + Attr("cy", ly) + "r=\"3.5\" " +
                                Attr("fill", series_colour[i]) + "stroke=\"white\" stroke-width=\"1\"");
      }
      svg.Text(Attr("x", lx + kLegendSwatch) + Attr("y", ly + 4.0), series.name);
    }
    for (std::size_t i = 0; i < spec.hlines.size(); ++i, ly += kLegendRow) {
      svg.Empty("line", Attr("x1", lx) + Attr("y1", ly) + Attr("x2", lx + kLegendSwatch - 6.0) + Attr("y2", ly) +
                            Attr("stroke", hline_colour[i]) + "stroke-width=\"1.5\" stroke-dasharray=\"7 4\"");
      svg.Text(Attr("x", lx + kLegendSwatch) + Attr("y", ly + 4.0), spec.hlines[i].name);
    }
    for (std::size_t i = 0; i < spec.markers.size(); ++i, ly += kLegendRow) {
      svg.Empty("path", Attr("d", Diamond(lx + (kLegendSwatch - 6.0) / 2.0, ly, 6.0)) +
                            Attr("fill", marker_colour[i]) + "stroke=\"#222222\" stroke-width=\"1.5\"");
      svg.Text(Attr("x", lx + kLegendSwatch) + Attr("y", ly + 4.0), spec.markers[i].name);
    }
    svg.Close("g");
  }

  svg.Close("svg");
  return svg.Take();
}

}  // namespace edgefleet::ml
