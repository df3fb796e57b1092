// Helpers every edgefleet subcommand shares.
#pragma once

#include <string>

#include "ml/dataset.h"

namespace edgefleet::cli {

// Prints "edgefleet: <message>" on stderr and returns exit status 1.
int Fail(const std::string& message);

// Recordings from a CSV folder or a packed file; empty: the shipped ones.
ml::DataResult<ml::Dataset> LoadData(const std::string& data);

}  // namespace edgefleet::cli
