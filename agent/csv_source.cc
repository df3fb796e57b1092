#include <charconv>
#include <cmath>
#include <iostream>

#include "agent/sensor_source.h"

namespace edgefleet::agent {
namespace {

using common::Error;
using common::ErrorCode;
using common::Expected;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool ParseDouble(std::string_view s, double& out) {
  s = Trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(out);
}

}  // namespace

CsvSource::CsvSource(std::istream& in, std::string name, double step_g, double rate_hz)
    : in_(&in), name_(std::move(name)), step_g_(step_g), rate_hz_(rate_hz) {}

Expected<std::unique_ptr<CsvSource>> CsvSource::Open(const std::filesystem::path& path, double step_g,
                                                     double rate_hz) {
  auto file = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*file) return Error(ErrorCode::kNotFound, "cannot open the CSV source " + path.string());
  auto source = std::unique_ptr<CsvSource>(new CsvSource(*file, path.string(), step_g, rate_hz));
  source->owned_ = std::move(file);
  return source;
}

Expected<bool> CsvSource::Read(std::span<float> window) {
  if (window.size() != kWindowRows * kAxes) {
    return Error(ErrorCode::kInvalidArgument, "a window is 300 values");
  }
  std::size_t rows = 0;
  std::string line;
  while (rows < kWindowRows) {
    if (!std::getline(*in_, line)) {
      if (in_->bad()) return Error(ErrorCode::kIo, name_ + ": read failed");
      return false;  // end of input; a partial window is dropped
    }
    ++line_;
    const std::string_view text = Trim(line);
    if (text.empty()) continue;
    // A header (x,y,z) may open the stream, or reappear when files are concatenated.
    if (text.front() == 'x' || text.front() == 'X') continue;
    double v[kAxes];
    std::size_t start = 0;
    for (std::size_t axis = 0; axis < kAxes; ++axis) {
      const std::size_t comma = axis + 1 < kAxes ? text.find(',', start) : text.size();
      if (comma == std::string_view::npos || (axis + 1 == kAxes && text.find(',', start) != std::string_view::npos) ||
          !ParseDouble(text.substr(start, comma - start), v[axis])) {
        return Error(ErrorCode::kInvalidArgument,
                     name_ + " line " + std::to_string(line_) + ": expected three numbers x,y,z");
      }
      start = comma + 1;
    }
    for (std::size_t axis = 0; axis < kAxes; ++axis) {
      double value = v[axis];
      if (step_g_ > 0) {
        const double scaled = value / step_g_;
        const double count = std::round(scaled);
        if (std::fabs(scaled - count) >= 0.01 || std::fabs(count) > 1e7) {
          return Error(ErrorCode::kInvalidArgument,
                       name_ + " line " + std::to_string(line_) + ": a value is off the sensor's grid");
        }
        value = count * step_g_;
      }
      window[rows * kAxes + axis] = static_cast<float>(value);
    }
    ++rows;
  }
  return true;
}

}  // namespace edgefleet::agent
