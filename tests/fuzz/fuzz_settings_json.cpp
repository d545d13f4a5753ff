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
#include "tests/fuzz/broken.h"

using namespace fleet::backup;
using nlohmann::ordered_json;

namespace {

bool overfull(const std::string& error) {
  return error.find("bytes do not fit") != std::string::npos || error.find("the text pool would need") != std::string::npos;
}

bool header_field(const std::string& name) {
  for (const char* h :
       {"version", "cfg_size", "cfg_crc", "cfg_crc32", "config_version", "cfg_timestamp", "save_flag", "cfg_holder", "header"})
    if (name == h) return true;
  return false;
}

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

bool same_values(const ordered_json& first, const ordered_json& again) {
  if (first.is_null()) return true;
  if (first.is_object()) {
    if (!again.is_object() || again.size() != first.size()) return false;
    for (auto& [k, v] : first.items())
      if (!again.contains(k) || !same_values(v, again[k])) return false;
    return true;
  }
  if (first.is_array()) {
    if (!again.is_array() || again.size() != first.size()) return false;
    for (std::size_t i = 0; i < first.size(); ++i)
      if (!same_values(first[i], again[i])) return false;
    return true;
  }
  return first == again;
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
    if (header_field(k)) continue;
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
      fleet::fuzz::broken(m.path + " given " + m.given->dump(-1, ' ', false, ordered_json::error_handler_t::replace) + ", read back " +
                          (now ? now->dump(-1, ' ', false, ordered_json::error_handler_t::replace) : std::string("nothing")));
  }

  // Exported and imported again: the same settings.
  auto again = read_settings_file(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  // A text that fills its field to the last byte, or a text pool without room for every NUL, is only in a
  // corrupt file (Tasmota ends each with a NUL). The decode shows it whole, as decode-config does; the
  // import refuses to write it back, saying which field.
  if (!again && overfull(again.error())) return 0;
  if (!again) fleet::fuzz::broken("the exported JSON is refused by the import: " + again.error());
  auto second = layouts.decode(again->file).fields;
  std::map<std::string_view, const ordered_json*> second_by_name;
  for (auto& [k, v] : second.items()) second_by_name.emplace(k, &v);
  for (auto& [k, v] : decoded.fields.items()) {
    auto it = second_by_name.find(k);
    if (!header_field(k) && (it == second_by_name.end() || !same_values(v, *it->second)))
      fleet::fuzz::broken(k + " exported " + v.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + ", imported " +
                          (it == second_by_name.end() ? std::string("nothing") : it->second->dump(-1, ' ', false, ordered_json::error_handler_t::replace)));
  }
  return 0;
}
