#include "backup/printable_text.h"

#include <cstdint>

namespace fleet::backup {
namespace {

struct Range {
  char32_t first, last;
};

// Code points Python does not print (categories Cc, Cf, Zs but space, Zl, Zp, Co, and the non-characters
// of Cn), from the Unicode character database.
constexpr Range kNotPrintable[] = {
    {0x0000, 0x001F}, {0x007F, 0x00A0}, {0x00AD, 0x00AD}, {0x0600, 0x0605}, {0x061C, 0x061C}, {0x06DD, 0x06DD},
    {0x070F, 0x070F}, {0x0890, 0x0891}, {0x08E2, 0x08E2}, {0x1680, 0x1680}, {0x180E, 0x180E}, {0x2000, 0x200F},
    {0x2028, 0x202F}, {0x205F, 0x2064}, {0x2066, 0x206F}, {0x3000, 0x3000}, {0xE000, 0xF8FF}, {0xFDD0, 0xFDEF},
    {0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFB}, {0x110BD, 0x110BD}, {0x110CD, 0x110CD}, {0x13430, 0x1343F},
    {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F}, {0xF0000, 0x10FFFF},
};

bool printable(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return true;
  if ((c & 0xFFFE) == 0xFFFE) return false;  // U+xFFFE and U+xFFFF of every plane
  for (const auto& r : kNotPrintable)
    if (c >= r.first && c <= r.last) return false;
  return true;
}

// The length of the well-formed UTF-8 sequence at s[i] (Unicode's table 3-7) and its code point; 0 if none.
std::size_t sequence(std::string_view s, std::size_t i, char32_t& c) {
  auto at = [&](std::size_t k) { return static_cast<std::uint8_t>(s[i + k]); };
  std::uint8_t b = at(0);
  if (b < 0x80) {
    c = b;
    return 1;
  }
  std::size_t n;
  std::uint8_t lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b >= 0xC2 && b <= 0xDF) n = 2;
  else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    if (b == 0xE0) lo = 0xA0;  // overlong
    if (b == 0xED) hi = 0x9F;  // surrogates
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    if (b == 0xF0) lo = 0x90;  // overlong
    if (b == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;  // continuation byte, C0/C1 (overlong) or F5..FF
  }
  if (i + n > s.size()) return 0;
  if (at(1) < lo || at(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if ((at(k) & 0xC0) != 0x80) return 0;
  c = b & (0xFF >> (n + 1));
  for (std::size_t k = 1; k < n; ++k) c = (c << 6) | (at(k) & 0x3F);
  return n;
}

}  // namespace

std::string printable_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    char32_t c = 0;
    std::size_t n = sequence(s, i, c);
    if (n == 0) {  // dropped; the next byte may start a sequence (the same as dropping the maximal subpart)
      ++i;
      continue;
    }
    if (printable(c)) out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace fleet::backup
