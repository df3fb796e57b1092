// `edgefleet model inspect FILE`: prints what a model artifact holds, after
// the core has validated it. Returns the process exit status.
#pragma once

#include <string>

namespace edgefleet::cli {

int InspectModel(const std::string& path, bool json);

}  // namespace edgefleet::cli
