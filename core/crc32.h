// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, initial and final
// value 0xFFFFFFFF): the same checksum zlib's crc32() computes. It guards
// model artifacts against corruption in transit and in flash.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgefleet::core {

// Continues a running CRC: Crc32(b, Crc32(a)) == Crc32(a ++ b).
std::uint32_t Crc32(const std::uint8_t* data, std::size_t size, std::uint32_t crc = 0);

}  // namespace edgefleet::core
