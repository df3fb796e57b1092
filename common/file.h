// Whole-file reads and crash-safe whole-file writes.
//
// What it is for: keys, configuration and (later) models are replaced whole.
// WriteFileAtomically follows the LevelDB recipe: write a temporary file in
// the same directory, fsync it, rename it over the target, fsync the
// directory. After it returns ok, the new content survives a crash or power
// loss; if it fails or the process dies part way, the target holds its old
// content (or does not exist), never a mix. A leftover temporary
// (".<name>.tmp.XXXXXX") may remain after a crash; it is never read.
//
// The temporary file is created with `permissions` before any byte is
// written, so a private key is never readable by others, not even briefly.
//
// Threads: the functions are reentrant; concurrent writers of the same path
// each leave a whole file, and the last rename wins.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"

namespace edgefleet::common {

Expected<void> WriteFileAtomically(const std::filesystem::path& path,
                                   std::span<const std::uint8_t> bytes,
                                   std::filesystem::perms permissions);
Expected<void> WriteFileAtomically(const std::filesystem::path& path, std::string_view bytes,
                                   std::filesystem::perms permissions);

// Reads a whole regular file. kNotFound if it does not exist,
// kResourceExhausted if it is larger than max_bytes, kIo otherwise.
Expected<std::string> ReadFile(const std::filesystem::path& path, std::size_t max_bytes);

}  // namespace edgefleet::common
