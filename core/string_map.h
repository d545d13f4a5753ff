#pragma once
// Hash maps keyed by text that are looked up by std::string_view without building a std::string first: a
// MAC is 17 characters, past the small-string buffer, so each lookup by a std::string copy allocated (the
// rollout driver looks up every device of a rollout on each drive).
#include <string>
#include <string_view>
#include <unordered_map>

namespace fleet::core {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

}  // namespace fleet::core
