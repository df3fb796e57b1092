// Sensor sources: where the agent's windows come from (SPEC section 2;
// `--source csv:PATH[@RATE_HZ] | iio:DEVICE | stdin`).
//
// What it is for: a source yields windows of 100 samples x 3 axes,
// non-overlapping, interleaved x,y,z, in g. Three kinds:
//   - CsvSource: the recordings' CSV format (header `x,y,z`), from a file
//     (replay) or from stdin (another process pipes samples in). Each value
//     is snapped to the sensor's grid as data/README.md explains: count =
//     round(value / step), value = count * step, and a value more than 0.01
//     step away from the grid is rejected naming its line (step 1/2048 g for
//     the recordings' MSA301; 0 disables snapping). A replay therefore gives
//     exactly the windows training saw.
//   - IioSource: a Linux IIO accelerometer (MPU6050-class drivers) through
//     its sysfs directory and buffer device node (both constructor
//     arguments, so tests build a fake tree and feed a FIFO).
// Pacing (200 Hz replay) is not the source's job: RunSource (source_runner.h)
// paces reads by the clock; a source reads as fast as its input allows.
//
// Ownership: a source owns its file descriptors/streams (CsvSource over a
// caller's std::istream borrows it). Threads: one thread reads a source; the
// binary runs it on a reader thread that posts windows to the agent's loop.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <istream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"

namespace edgefleet::agent {

inline constexpr std::size_t kWindowRows = 100;
inline constexpr std::size_t kAxes = 3;
inline constexpr double kRecordingStepG = 1.0 / 2048.0;
inline constexpr double kStandardGravity = 9.80665;  // m/s^2 per g (IIO reports m/s^2)

class SensorSource {
 public:
  virtual ~SensorSource() = default;
  // Fills `window` (kWindowRows * kAxes values). true: a window; false: the
  // input ended (a partial last window is dropped). An Error on bad input or
  // a failed read.
  virtual common::Expected<bool> Read(std::span<float> window) = 0;
  // The sensor's sample rate if the source knows it (replay pacing), else 0.
  virtual double rate_hz() const { return 0; }
  virtual std::string name() const = 0;
};

class CsvSource final : public SensorSource {
 public:
  // Reads `in` (not owned). `name` appears in errors ("stdin", the path).
  CsvSource(std::istream& in, std::string name, double step_g = kRecordingStepG, double rate_hz = 0);
  // Opens `path`; kNotFound / kIo if it cannot be read.
  static common::Expected<std::unique_ptr<CsvSource>> Open(const std::filesystem::path& path,
                                                           double step_g = kRecordingStepG, double rate_hz = 200);

  common::Expected<bool> Read(std::span<float> window) override;
  double rate_hz() const override { return rate_hz_; }
  std::string name() const override { return name_; }

 private:
  std::unique_ptr<std::ifstream> owned_;
  std::istream* in_;
  std::string name_;
  double step_g_;
  double rate_hz_;
  std::uint64_t line_ = 0;
};

// One parsed `_type` of an IIO scan element, e.g. "le:s16/16>>0".
struct IioType {
  bool big_endian = false;
  bool is_signed = true;
  unsigned bits = 16;
  unsigned storage_bits = 16;
  unsigned shift = 0;
};
common::Expected<IioType> ParseIioType(std::string_view text);

class IioSource final : public SensorSource {
 public:
  // `sysfs_dir`: e.g. /sys/bus/iio/devices/iio:device0; `device_node`: e.g.
  // /dev/iio:device0. Enables in_accel_{x,y,z} (and disables every other scan
  // element), sets buffer/length, enables the buffer, opens the node.
  static common::Expected<std::unique_ptr<IioSource>> Open(const std::filesystem::path& sysfs_dir,
                                                           const std::filesystem::path& device_node,
                                                           std::uint32_t buffer_length = 400);
  ~IioSource() override;  // disables the buffer

  common::Expected<bool> Read(std::span<float> window) override;
  double rate_hz() const override { return rate_hz_; }
  std::string name() const override { return node_.string(); }
  double step_g() const { return step_g_[0]; }

 private:
  IioSource() = default;
  std::filesystem::path sysfs_;
  std::filesystem::path node_;
  int fd_ = -1;
  IioType type_[kAxes];
  std::size_t offset_[kAxes] = {};  // byte offset of x, y, z in a record
  std::size_t record_bytes_ = 0;
  double step_g_[kAxes] = {};
  double rate_hz_ = 0;
  std::vector<std::uint8_t> pending_;  // bytes of a partial record
};

// "csv:PATH[@RATE_HZ]" (RATE 0: as fast as possible; default 200),
// "iio:DEVICE" (a name like iio:device0 or a number, under /sys/bus/iio/devices
// and /dev), "stdin". kInvalidArgument for anything else.
common::Expected<std::unique_ptr<SensorSource>> OpenSource(const std::string& spec, double step_g = kRecordingStepG);

}  // namespace edgefleet::agent
