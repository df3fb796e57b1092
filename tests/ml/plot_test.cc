// RenderSvg: well-formed XML, escaped text, round ticks, the points drawn,
// and the same bytes every time. Set EDGEFLEET_PLOT_OUT to a directory to
// also write the example plots there for a look.

#include "ml/plot.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cctype>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgefleet::ml {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// A small XML checker, enough for what RenderSvg writes: one root element,
// tags nest and match, attributes are quoted, and every '&' starts one of the
// predefined entities. Returns an empty string when well-formed.
class XmlChecker {
 public:
  explicit XmlChecker(std::string_view doc) : doc_(doc) {}

  std::string Check() {
    if (doc_.starts_with("<?xml")) {
      const std::size_t end = doc_.find("?>");
      if (end == std::string_view::npos) return "unterminated declaration";
      pos_ = end + 2;
    }
    int roots = 0;
    while (pos_ < doc_.size()) {
      const std::size_t lt = doc_.find('<', pos_);
      const std::string_view text = doc_.substr(pos_, lt == std::string_view::npos ? doc_.npos : lt - pos_);
      if (std::string why = CheckText(text); !why.empty()) return why;
      if (stack_.empty() && text.find_first_not_of(" \n\t\r") != std::string_view::npos) {
        return "text outside the root element";
      }
      if (lt == std::string_view::npos) break;
      pos_ = lt + 1;
      if (doc_.substr(pos_).starts_with("!--")) {
        const std::size_t end = doc_.find("-->", pos_);
        if (end == std::string_view::npos) return "unterminated comment";
        pos_ = end + 3;
        continue;
      }
      const bool closing = pos_ < doc_.size() && doc_[pos_] == '/';
      if (closing) ++pos_;
      const std::string name = Name();
      if (name.empty()) return "tag without a name at " + std::to_string(pos_);
      if (closing) {
        SkipSpace();
        if (!Eat('>')) return "bad closing tag " + name;
        if (stack_.empty() || stack_.back() != name) return "mismatched </" + name + ">";
        stack_.pop_back();
        continue;
      }
      if (stack_.empty() && ++roots > 1) return "more than one root element";
      for (;;) {
        SkipSpace();
        if (Eat('>')) {
          stack_.push_back(name);
          break;
        }
        if (Eat('/')) {
          if (!Eat('>')) return "bad empty-element tag " + name;
          break;
        }
        const std::string attribute = Name();
        if (attribute.empty()) return "bad attribute in " + name;
        if (!Eat('=') || !Eat('"')) return "unquoted attribute " + attribute + " in " + name;
        const std::size_t end = doc_.find('"', pos_);
        if (end == std::string_view::npos) return "unterminated attribute " + attribute;
        const std::string_view value = doc_.substr(pos_, end - pos_);
        if (value.find('<') != std::string_view::npos) return "'<' in attribute " + attribute;
        if (std::string why = CheckText(value); !why.empty()) return why;
        pos_ = end + 1;
      }
    }
    if (!stack_.empty()) return "unclosed <" + stack_.back() + ">";
    if (roots != 1) return "no root element";
    return {};
  }

 private:
  static std::string CheckText(std::string_view text) {
    for (std::size_t amp = text.find('&'); amp != std::string_view::npos; amp = text.find('&', amp + 1)) {
      const std::string_view rest = text.substr(amp);
      bool known = false;
      for (const std::string_view entity : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"}) {
        known = known || rest.starts_with(entity);
      }
      if (!known) return "bare '&' in \"" + std::string(text) + "\"";
    }
    if (text.find('>') != std::string_view::npos) return "bare '>' in text";  // legal, but we escape it
    return {};
  }
  std::string Name() {
    const std::size_t start = pos_;
    while (pos_ < doc_.size() && (std::isalnum(static_cast<unsigned char>(doc_[pos_])) != 0 ||
                                  doc_[pos_] == '-' || doc_[pos_] == ':' || doc_[pos_] == '_')) {
      ++pos_;
    }
    return std::string(doc_.substr(start, pos_ - start));
  }
  void SkipSpace() {
    while (pos_ < doc_.size() && std::isspace(static_cast<unsigned char>(doc_[pos_])) != 0) ++pos_;
  }
  bool Eat(char c) {
    if (pos_ < doc_.size() && doc_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  std::string_view doc_;
  std::size_t pos_ = 0;
  std::vector<std::string> stack_;
};

std::string CheckXml(std::string_view doc) { return XmlChecker(doc).Check(); }

std::size_t Count(std::string_view haystack, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = haystack.find(needle); at != std::string_view::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

// The contents of the <text> elements that carry `cls`.
std::vector<std::string> TextsOfClass(std::string_view svg, std::string_view cls) {
  std::vector<std::string> texts;
  const std::string marker = "class=\"" + std::string(cls) + "\"";
  for (std::size_t at = svg.find(marker); at != std::string_view::npos; at = svg.find(marker, at + 1)) {
    const std::size_t open_end = svg.find('>', at);
    const std::size_t close = svg.find("</text>", open_end);
    texts.emplace_back(svg.substr(open_end + 1, close - open_end - 1));
  }
  return texts;
}

// The number of x,y pairs in each polyline's points attribute.
std::vector<std::size_t> PolylinePointCounts(std::string_view svg) {
  std::vector<std::size_t> counts;
  for (std::size_t at = svg.find("<polyline"); at != std::string_view::npos; at = svg.find("<polyline", at + 1)) {
    const std::size_t start = svg.find("points=\"", at) + 8;
    const std::string_view points = svg.substr(start, svg.find('"', start) - start);
    counts.push_back(Count(points, ","));
  }
  return counts;
}

// The zone sweep the plot is for: escalation rate against F1, the two
// single-model F1 values as references, the chosen default highlighted.
PlotSpec ZoneSweep() {
  PlotSpec spec;
  spec.title = "Zone sweep: escalation rate vs F1";
  spec.x_label = "escalation rate (fraction of windows sent to the cloud)";
  spec.y_label = "F1";
  PlotSeries sweep{.name = "edge + cloud (zone width sweep)", .points = {}};
  for (int i = 0; i <= 20; ++i) {
    const double rate = 0.01 * i * i / 4.0;
    sweep.points.emplace_back(rate, 0.78 + 0.17 * (1.0 - std::exp(-rate * 9.0)));
  }
  spec.series.push_back(sweep);
  PlotSeries scatter{.name = "random zone placement", .points = {}, .lines = false};
  for (int i = 0; i < 12; ++i) scatter.points.emplace_back(0.08 * i, 0.76 + 0.012 * ((i * 7) % 10));
  spec.series.push_back(scatter);
  spec.hlines = {{"edge only", 0.78}, {"cloud only", 0.955}};
  spec.markers = {{"chosen default (zone 0.3)", 0.25, 0.78 + 0.17 * (1.0 - std::exp(-0.25 * 9.0))}};
  spec.x_range = std::make_pair(0.0, 1.0);
  return spec;
}

void MaybeWrite(const std::string& name, const std::string& svg) {
  const char* dir = getenv("EDGEFLEET_PLOT_OUT");
  if (dir == nullptr) return;
  std::ofstream(std::filesystem::path(dir) / name) << svg;
}

TEST(RenderSvg, ZoneSweepIsWellFormed) {
  const std::string svg = RenderSvg(ZoneSweep());
  MaybeWrite("zone_sweep.svg", svg);
  EXPECT_EQ(CheckXml(svg), "");
  EXPECT_TRUE(svg.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_NE(svg.find("width=\"800\" height=\"500\""), std::string::npos);
  for (const char* text : {"Zone sweep: escalation rate vs F1", "escalation rate (fraction of windows sent to the cloud)",
                           ">F1<", "edge + cloud (zone width sweep)", "random zone placement", "edge only",
                           "cloud only", "chosen default (zone 0.3)"}) {
    EXPECT_NE(svg.find(text), std::string::npos) << text;
  }
  // The line series is one polyline of all its points; the scatter has none.
  EXPECT_EQ(PolylinePointCounts(svg), std::vector<std::size_t>{21});
  EXPECT_EQ(Count(svg, "<circle"), 21u + 12u + 2u);  // data markers and the two legend swatches
  EXPECT_EQ(Count(svg, "stroke-dasharray"), 2u * 2u);  // the reference lines and their legend swatches
}

TEST(RenderSvg, TicksAreRound) {
  const std::string svg = RenderSvg(ZoneSweep());
  // Given x range [0, 1]: exactly, with ticks every 0.2.
  EXPECT_EQ(TextsOfClass(svg, "x-tick"), (std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}));
  // y from the data (0.76 .. 0.955) widened to round ticks.
  EXPECT_EQ(TextsOfClass(svg, "y-tick"),
            (std::vector<std::string>{"0.75", "0.80", "0.85", "0.90", "0.95", "1.00"}));
}

TEST(RenderSvg, BetweenFiveAndTenTicksOnAnyRange) {
  const std::vector<std::pair<double, double>> ranges = {
      {0.0, 1.0},     {0.62, 0.91},  {-3.0, 1234.0},         {1e-6, 3e-6},       {-0.5, 0.5},
      {0.0, 7.0},     {100.0, 100.3}, {-1e9, 1e9},           {5.0, 5.0},         {100.0, 100.0 + 1e-12},
      {0.0, 1e-320},  {1e-250, 2e-250}, {-1e308, 1e308},     {0.0, 1e300}};
  for (const auto& [lo, hi] : ranges) {
    for (const bool given : {false, true}) {
      PlotSpec spec;
      spec.series.push_back({.name = "s", .points = {{lo, lo}, {hi, hi}}});
      if (given) spec.x_range = spec.y_range = std::make_pair(lo, hi);
      const std::string svg = RenderSvg(spec);
      for (const char* axis : {"x-tick", "y-tick"}) {
        const std::vector<std::string> ticks = TextsOfClass(svg, axis);
        EXPECT_GE(ticks.size(), 5u) << lo << ".." << hi << " " << axis;
        EXPECT_LE(ticks.size(), 10u) << lo << ".." << hi << " " << axis;
        for (std::size_t i = 1; i < ticks.size(); ++i) EXPECT_NE(ticks[i], ticks[i - 1]) << lo << ".." << hi;
        for (const std::string& t : ticks) {
          EXPECT_NE(t, "-0") << lo << ".." << hi;
          EXPECT_FALSE(t.starts_with("-0.0") && std::stod(t) == 0.0) << t;
        }
      }
      EXPECT_EQ(CheckXml(svg), "") << lo << ".." << hi;
    }
  }
}

TEST(RenderSvg, EscapesText) {
  PlotSpec spec;
  spec.title = "F1 <edge> & \"cloud\" 'both'";
  spec.x_label = "a&b";
  spec.y_label = "</svg>";
  spec.series.push_back({.name = "x < y & z", .points = {{0, 0}, {1, 1}}});
  spec.hlines.push_back({"ref \"1\"", 0.5});
  spec.markers.push_back({"<pick>", 0.5, 0.5});
  spec.series.push_back({.name = std::string("bell\x07" "char"), .points = {}});
  const std::string svg = RenderSvg(spec);
  MaybeWrite("escapes.svg", svg);
  EXPECT_EQ(CheckXml(svg), "");
  EXPECT_NE(svg.find("F1 &lt;edge&gt; &amp; &quot;cloud&quot; &apos;both&apos;"), std::string::npos);
  EXPECT_NE(svg.find(">a&amp;b<"), std::string::npos);
  EXPECT_NE(svg.find("&lt;/svg&gt;"), std::string::npos);
  EXPECT_NE(svg.find("x &lt; y &amp; z"), std::string::npos);
  EXPECT_NE(svg.find("ref &quot;1&quot;"), std::string::npos);
  EXPECT_NE(svg.find("&lt;pick&gt;"), std::string::npos);
  EXPECT_NE(svg.find(">bellchar<"), std::string::npos);  // control characters are not XML
  EXPECT_EQ(svg.find("<edge>"), std::string::npos);
  EXPECT_EQ(Count(svg, "</svg>"), 1u);
}

TEST(RenderSvg, NonFinitePointsAreSkippedAndBreakTheLine) {
  PlotSpec spec;
  spec.series.push_back(
      {.name = "gappy", .points = {{0, 0}, {1, 1}, {2, 4}, {3, kNaN}, {4, 16}, {kInf, 20}, {5, 25}, {6, 36}, {7, 49}}});
  spec.series.push_back({.name = "lonely", .points = {{kNaN, 1}, {2, 2}, {-kInf, 3}}});
  const std::string svg = RenderSvg(spec);
  MaybeWrite("gaps.svg", svg);
  EXPECT_EQ(CheckXml(svg), "");
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
  // Runs: (0..2) three points, (4) alone: no line, (5..7) three points; "lonely" has one point.
  EXPECT_EQ(PolylinePointCounts(svg), (std::vector<std::size_t>{3, 3}));
  EXPECT_EQ(Count(svg, "<circle"), 7u + 1u + 2u);
  // The infinite point does not stretch the axis: x ticks stop near 7.
  const std::vector<std::string> x_ticks = TextsOfClass(svg, "x-tick");
  ASSERT_FALSE(x_ticks.empty());
  EXPECT_LE(std::stod(x_ticks.back()), 8.0);
}

TEST(RenderSvg, EmptyInputsStillMakeADocument) {
  PlotSpec nothing;
  const std::string empty = RenderSvg(nothing);
  EXPECT_EQ(CheckXml(empty), "");
  EXPECT_GE(TextsOfClass(empty, "x-tick").size(), 5u);
  EXPECT_EQ(Count(empty, "<polyline"), 0u);

  PlotSpec empty_series;
  empty_series.series.push_back({.name = "no data yet", .points = {}});
  empty_series.series.push_back({.name = "only NaN", .points = {{kNaN, kNaN}}});
  const std::string svg = RenderSvg(empty_series);
  EXPECT_EQ(CheckXml(svg), "");
  EXPECT_NE(svg.find("no data yet"), std::string::npos);  // still in the legend
  EXPECT_NE(svg.find("only NaN"), std::string::npos);

  PlotSpec single;  // one point: a degenerate range is widened
  single.series.push_back({.name = "one", .points = {{3, 3}}});
  const std::string one = RenderSvg(single);
  EXPECT_EQ(CheckXml(one), "");
  EXPECT_GE(TextsOfClass(one, "y-tick").size(), 5u);

  PlotSpec tiny;  // sizes clamp; an unusable range falls back to the data
  tiny.width = -5;
  tiny.height = 0;
  tiny.x_range = std::make_pair(1.0, 1.0);
  tiny.y_range = std::make_pair(kNaN, 1.0);
  tiny.series.push_back({.name = "s", .points = {{0, 0}, {1, 1}}});
  const std::string clamped = RenderSvg(tiny);
  EXPECT_EQ(CheckXml(clamped), "");
  EXPECT_NE(clamped.find("width=\"240\" height=\"180\""), std::string::npos);
}

TEST(RenderSvg, PointsOutsideAGivenRangeAreClipped) {
  PlotSpec spec;
  spec.series.push_back({.name = "s", .points = {{-1, -1}, {0.5, 0.5}, {2, 2}}});
  spec.x_range = spec.y_range = std::make_pair(0.0, 1.0);
  const std::string svg = RenderSvg(spec);
  EXPECT_EQ(CheckXml(svg), "");
  EXPECT_NE(svg.find("<clipPath id=\"plot-area\">"), std::string::npos);
  EXPECT_NE(svg.find("clip-path=\"url(#plot-area)\""), std::string::npos);
  EXPECT_EQ(PolylinePointCounts(svg), std::vector<std::size_t>{3});

  // Far outside: coordinates stay numbers (no "inf") however far the point is.
  spec.series[0].points = {{0.5, 0.5}, {1e308, -1e308}, {-1e300, 0.5}};
  const std::string far = RenderSvg(spec);
  EXPECT_EQ(CheckXml(far), "");
  EXPECT_EQ(far.find("inf"), std::string::npos);
  EXPECT_EQ(far.find("nan"), std::string::npos);
  EXPECT_EQ(PolylinePointCounts(far), std::vector<std::size_t>{3});
}

TEST(RenderSvg, SameSpecSameBytes) {
  const PlotSpec spec = ZoneSweep();
  const std::string first = RenderSvg(spec);
  EXPECT_EQ(RenderSvg(spec), first);
  EXPECT_EQ(RenderSvg(ZoneSweep()), first);
}

TEST(RenderSvg, EntriesGetDistinctColours) {
  PlotSpec spec;
  for (int i = 0; i < 4; ++i) spec.series.push_back({.name = "s" + std::to_string(i), .points = {{0, i}, {1, i}}});
  spec.hlines.push_back({"h", 1.5});
  spec.markers.push_back({"m", 0.5, 2.0});
  const std::string svg = RenderSvg(spec);
  MaybeWrite("colours.svg", svg);
  for (const char* colour : {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"}) {
    EXPECT_NE(svg.find(colour), std::string::npos) << colour;
  }
}

}  // namespace
}  // namespace edgefleet::ml
