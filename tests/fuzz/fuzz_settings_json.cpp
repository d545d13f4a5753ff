// JSON settings files (backup/settings_file.h): decode-config's backups and `backup export --format
// json`'s, written into a blank .dmp of the version and platform they name. Aborts when a file that is
// taken decodes to JSON that cannot be written out; when a value it gave does not read back (unless
// another name of the same bytes wrote over it: decode-config's tables have such aliases, e.g.
// pcf8574_config/7 and ledpwm_mask; then that value written alone must read back); and when the
// decoded settings, exported and imported again, are refused or decode differently.
// decode-config's "0x…" and "0b…" numbers count as the numbers they spell, 32-bit floats as equal
// within their precision; nulls and masked secrets are left as the blank file has them.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backup/settings_file.h"
#include "backup/settings_layouts.h"
#include "tests/fuzz/settings_round_trip.h"

using namespace fleet::backup;
using nlohmann::ordered_json;

namespace {

bool has_value(const ordered_json& j) {
  if (j.is_null() || (j.is_string() && j == "********")) return false;
  if (j.is_structured()) {
    for (const auto& v : j)
      if (has_value(v)) return true;
    return false;
  }
  return true;
}

bool same_leaf(const ordered_json& given, const ordered_json& decoded) {
  if (given == decoded) return true;
  if (given.is_string() && decoded.is_number()) {
    const auto& s = given.get_ref<const std::string&>();
    int base = s.rfind("0x", 0) == 0 ? 16 : s.rfind("0b", 0) == 0 ? 2 : 0;
    if (base == 0 || s.size() < 3) return false;
    char* end = nullptr;
    auto v = std::strtoull(s.c_str() + 2, &end, base);
    return *end == 0 && decoded.is_number_unsigned() && decoded.get<std::uint64_t>() == v;
  }
  if (given.is_number() && decoded.is_number()) {
    double a = given.get<double>(), b = decoded.get<double>();
    return std::fabs(a - b) <= 1e-6 * std::max(1.0, std::fabs(a)) || static_cast<float>(a) == static_cast<float>(b);
  }
  return false;
}

struct Mismatch {
  std::string path;  // as SettingsLayouts::set takes it: "timer/0/arm"
  const ordered_json* given;
};

// The leaves of `given` that `decoded` does not hold; aborts on a shape that differs.
void compare(const ordered_json& given, const ordered_json* decoded, const std::string& path, std::vector<Mismatch>& out) {
  if (!has_value(given)) return;
  if (decoded == nullptr) fleet::fuzz::broken(path + ": the import took a value for a field the decode does not show");
  if (given.is_object()) {
    if (!decoded->is_object()) fleet::fuzz::broken(path + ": an object given, the decode shows another shape");
    for (auto& [k, v] : given.items()) compare(v, decoded->contains(k) ? &(*decoded)[k] : nullptr, path + "/" + k, out);
    return;
  }
  if (given.is_array()) {
    if (!decoded->is_array()) fleet::fuzz::broken(path + ": an array given, the decode shows another shape");
    // Items past the field's end were taken only if they held nothing (masked secrets, nulls).
    for (std::size_t i = 0; i < given.size(); ++i)
      compare(given[i], i < decoded->size() ? &(*decoded)[i] : nullptr, path + "/" + std::to_string(i), out);
    return;
  }
  if (!same_leaf(given, *decoded)) out.push_back({path, &given});
}

const ordered_json* at_path(const ordered_json& j, const std::string& path) {
  const ordered_json* at = &j;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = std::min(path.find('/', start), path.size());
    std::string part = path.substr(start, end - start);
    if (at->is_object()) {
      if (!at->contains(part)) return nullptr;
      at = &(*at)[part];
    } else if (at->is_array()) {
      std::size_t i = std::stoul(part);
      if (i >= at->size()) return nullptr;
      at = &(*at)[i];
    } else {
      return nullptr;
    }
    start = end + 1;
  }
  return at;
}

std::string dumped(const ordered_json& j) {
  try {
    return j.dump();
  } catch (const nlohmann::json::exception&) {
    std::abort();  // e.g. a text field that is not UTF-8
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto read = read_settings_file(std::span<const std::uint8_t>(data, size));
  if (!read || read->kind != "json") return 0;
  const auto& layouts = SettingsLayouts::builtin();
  auto decoded = layouts.decode(read->file);
  std::string text = dumped(decoded.fields);

  // Every value given, read back (the top level indexed once: ordered_json looks keys up one by one).
  auto given = ordered_json::parse(data, data + size);
  std::map<std::string_view, const ordered_json*> by_name;
  for (auto& [k, v] : decoded.fields.items()) by_name.emplace(k, &v);
  std::vector<Mismatch> mismatches;
  for (auto& [k, v] : given.items()) {
    if (fleet::fuzz::header_field(k)) continue;
    auto it = by_name.find(k);
    compare(v, it == by_name.end() ? nullptr : it->second, k, mismatches);
  }
  for (const auto& m : mismatches) {
    DmpFile alone = read->file;
    if (auto e = layouts.set(alone, m.path, *m.given); !e.empty()) fleet::fuzz::broken(m.path + ": the import took it, alone it is refused: " + e);
    alone.seal();
    auto back = layouts.decode(alone).fields;
    const ordered_json* now = at_path(back, m.path);
    if (now == nullptr || !same_leaf(*m.given, *now))
      fleet::fuzz::broken(m.path + " given " + fleet::fuzz::shown(*m.given) + ", read back " +
                          (now ? fleet::fuzz::shown(*now) : std::string("nothing")));
  }

  // Exported and imported again: the same settings.
  fleet::fuzz::check_round_trip(decoded.fields, text);
  return 0;
}
