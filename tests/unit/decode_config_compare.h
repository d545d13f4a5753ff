#pragma once
// Compares a decoding of ours with decode-config's JSON of the same file, leaf by leaf: decode-config
// prints some numbers as "0x…"/"0b…" strings where the decoder keeps numbers, and floats within 1e-6.
// Both ways: a field only one of them shows is a difference too (decode-config's header aside).
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fleet::testing {

using nlohmann::json;
using nlohmann::ordered_json;

// As 64 bits, two's complement: a u64 field above INT64_MAX compares like any other.
inline std::optional<std::uint64_t> number_of(const json& j) {
  if (j.is_number_unsigned()) return j.get<std::uint64_t>();
  if (j.is_number_integer()) return static_cast<std::uint64_t>(j.get<std::int64_t>());
  if (!j.is_string()) return std::nullopt;
  auto s = j.get<std::string>();
  try {
    if (s.rfind("0x", 0) == 0) return std::stoull(s.substr(2), nullptr, 16);
    if (s.rfind("0b", 0) == 0) return std::stoull(s.substr(2), nullptr, 2);
  } catch (...) {
  }
  return std::nullopt;
}

inline void compare(const ordered_json& ours, const json& theirs, const std::string& path, std::vector<std::string>& diffs, int& leaves) {
  if (ours.is_object()) {
    if (!theirs.is_object()) return diffs.push_back(path + ": decode-config has no object here");
    for (auto& [k, v] : ours.items()) {
      if (!theirs.contains(k)) diffs.push_back(path + "." + k + ": not in decode-config's JSON");
      else compare(v, theirs[k], path + "." + k, diffs, leaves);
    }
    for (auto& [k, v] : theirs.items())  // both ways: every field decode-config decodes, we decode
      if (!ours.contains(k) && !(path.empty() && k == "header")) diffs.push_back(path + "." + k + ": decode-config decodes it, we do not");
    return;
  }
  if (ours.is_array()) {
    if (!theirs.is_array() || theirs.size() != ours.size())
      return diffs.push_back(path + ": arrays differ in shape: " + ours.dump() + " vs " + theirs.dump());
    for (std::size_t i = 0; i < ours.size(); ++i) compare(ours[i], theirs[i], path + "[" + std::to_string(i) + "]", diffs, leaves);
    return;
  }
  ++leaves;
  if (ours.is_number_float() || theirs.is_number_float()) {
    if (!ours.is_number() || !theirs.is_number() || std::fabs(ours.get<double>() - theirs.get<double>()) > 1e-6)
      diffs.push_back(path + ": " + ours.dump() + " vs " + theirs.dump());
    return;
  }
  if (ours.is_number_integer()) {
    auto t = number_of(theirs);
    auto mine = ours.is_number_unsigned() ? ours.get<std::uint64_t>() : static_cast<std::uint64_t>(ours.get<std::int64_t>());
    if (!t || *t != mine) diffs.push_back(path + ": " + ours.dump() + " vs " + theirs.dump());
    return;
  }
  if (ours != ordered_json(theirs)) diffs.push_back(path + ": " + ours.dump() + " vs " + theirs.dump());
}


}  // namespace fleet::testing
