#include <charconv>
#include <iostream>

#include "agent/sensor_source.h"

namespace edgefleet::agent {

common::Expected<std::unique_ptr<SensorSource>> OpenSource(const std::string& spec, double step_g) {
  using common::Error;
  using common::ErrorCode;
  if (spec == "stdin") {
    return std::unique_ptr<SensorSource>(std::make_unique<CsvSource>(std::cin, "stdin", step_g, 0));
  }
  if (spec.rfind("csv:", 0) == 0) {
    std::string path = spec.substr(4);
    double rate = 200;
    if (const auto at = path.rfind('@'); at != std::string::npos) {
      const std::string rate_text = path.substr(at + 1);
      const auto [end, ec] = std::from_chars(rate_text.data(), rate_text.data() + rate_text.size(), rate);
      if (ec != std::errc() || end != rate_text.data() + rate_text.size() || rate < 0 || rate > 1e6) {
        return Error(ErrorCode::kInvalidArgument, "--source csv:PATH@RATE_HZ needs a rate from 0 to 1000000");
      }
      path.resize(at);
    }
    if (path.empty()) return Error(ErrorCode::kInvalidArgument, "--source csv: needs a path");
    EDGEFLEET_ASSIGN_OR_RETURN(auto source, CsvSource::Open(path, step_g, rate));
    return std::unique_ptr<SensorSource>(std::move(source));
  }
  if (spec.rfind("iio:", 0) == 0) {
    std::string device = spec.substr(4);
    if (!device.empty() && device.find_first_not_of("0123456789") == std::string::npos) device = "iio:device" + device;
    if (device.rfind("device", 0) == 0) device = "iio:" + device;
    if (device.empty() || device.find('/') != std::string::npos) {
      return Error(ErrorCode::kInvalidArgument, "--source iio:DEVICE needs a device name like iio:device0");
    }
    EDGEFLEET_ASSIGN_OR_RETURN(auto source,
                               IioSource::Open(std::filesystem::path("/sys/bus/iio/devices") / device,
                                               std::filesystem::path("/dev") / device));
    return std::unique_ptr<SensorSource>(std::move(source));
  }
  return Error(ErrorCode::kInvalidArgument,
               "--source must be csv:PATH[@RATE_HZ], iio:DEVICE or stdin, not \"" + spec + "\"");
}

}  // namespace edgefleet::agent
