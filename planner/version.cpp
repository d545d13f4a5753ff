#include "planner/version.h"

#include <cctype>
#include <charconv>

namespace fleet::planner {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool is_build_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

}  // namespace

std::optional<Version> Version::parse(std::string_view text) {
  text = trim(text);
  if (!text.empty() && (text.front() == 'v' || text.front() == 'V')) text.remove_prefix(1);
  int parts[4] = {0, 0, 0, 0};
  int count = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  while (p < end && count < 4) {
    int value = 0;
    auto [next, ec] = std::from_chars(p, end, value);
    if (ec != std::errc{} || next == p || next - p > 3 || value < 0 || value > 255 || *p == '-') return std::nullopt;
    parts[count++] = value;
    p = next;
    if (p < end && *p == '.') {
      ++p;
      if (p == end) return std::nullopt;  // "9.1." is not a version
      continue;
    }
    break;
  }
  if (count < 2) return std::nullopt;
  if (p < end) {
    // Old-style development letter: 5.12.0i → 5.12.0.9.
    if (count == 3 && p + 1 == end && *p >= 'a' && *p <= 'z') {
      parts[3] = *p - 'a' + 1;
    } else {
      return std::nullopt;
    }
  }
  return Version{parts[0], parts[1], parts[2], parts[3]};
}

std::string Version::str() const {
  std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  if (sub != 0) s += "." + std::to_string(sub);
  return s;
}

std::string normalize_build(std::string_view raw) {
  std::string_view b = trim(raw);
  constexpr std::string_view kRelease = "release-";
  if (b.substr(0, kRelease.size()) == kRelease) b.remove_prefix(kRelease.size());
  // Self-compiled builds: "<7+ hex git hash>-<image>".
  auto dash = b.find('-');
  if (dash != std::string_view::npos && dash >= 7 && dash + 1 < b.size()) {
    bool hex = true;
    for (size_t i = 0; i < dash; ++i) hex = hex && std::isxdigit(static_cast<unsigned char>(b[i]));
    if (hex) b.remove_prefix(dash + 1);
  }
  return std::string(b);
}

std::optional<FirmwareVersion> FirmwareVersion::parse(std::string_view text) {
  text = trim(text);
  FirmwareVersion fw;
  auto open = text.find('(');
  std::string_view number = text.substr(0, open);
  if (open != std::string_view::npos) {
    if (text.back() != ')') return std::nullopt;
    std::string_view inner = text.substr(open + 1, text.size() - open - 2);
    if (inner.empty() || inner.size() > 64) return std::nullopt;
    for (char c : inner)
      if (!is_build_char(c)) return std::nullopt;
    fw.raw_build = std::string(inner);
    fw.build = normalize_build(inner);
  }
  auto v = Version::parse(number);
  if (!v) return std::nullopt;
  fw.version = *v;
  return fw;
}

bool FirmwareVersion::is_minimal() const {
  return build == "minimal" || (build.size() > 8 && build.ends_with("-minimal"));
}

bool FirmwareVersion::is_safeboot() const {
  return build == "safeboot" || (build.size() > 9 && build.ends_with("-safeboot"));
}

std::string FirmwareVersion::str() const {
  return raw_build.empty() ? version.str() : version.str() + "(" + raw_build + ")";
}

}  // namespace fleet::planner
