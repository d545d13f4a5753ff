#pragma once
// The longest start of a UTF-8 text within `max_bytes` that does not cut a character in two: what an
// error message may quote of a long value. Half a character makes the whole JSON answer unwritable
// (nlohmann's dump() throws on it).
#include <cstddef>
#include <string_view>

namespace fleet::core {

inline std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t n = max_bytes;
  // text[n] is the first byte left out: while it continues a character (10xxxxxx), leave that one out too.
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}

}  // namespace fleet::core
