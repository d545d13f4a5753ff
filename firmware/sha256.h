#pragma once
// SHA-256 (OpenSSL) as lower-case hex, of bytes or of a file read in chunks.
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace fleet::firmware {

std::string sha256_hex(std::span<const std::uint8_t> bytes);
std::optional<std::string> sha256_file(const std::string& path);  // nullopt: unreadable

}  // namespace fleet::firmware
