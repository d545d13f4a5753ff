// The check fuzz_dmp and fuzz_settings_json share: settings decoded, written out as JSON (`backup export
// --format json`) and read back as a settings file (`backup import`) must decode to the same values.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "backup/settings_file.h"
#include "backup/settings_layouts.h"
#include "tests/fuzz/broken.h"

namespace fleet::fuzz {

// The fields that describe the file rather than the device (sizes, checksums, save counters): the
// imported file has its own.
inline bool header_field(const std::string& name) {
  for (const char* h :
       {"version", "cfg_size", "cfg_crc", "cfg_crc32", "config_version", "cfg_timestamp", "save_flag", "cfg_holder", "header"})
    if (name == h) return true;
  return false;
}

// Whether `again` holds every value of `first`; a null in `first` (a value that did not decode, such as
// a corrupt compressed rule) is no value, and the import leaves it as a blank file has it.
inline bool same_values(const nlohmann::ordered_json& first, const nlohmann::ordered_json& again) {
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

// A value as a message shows it (bytes that are not UTF-8 replaced).
inline std::string shown(const nlohmann::ordered_json& j) { return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace); }

// `fields` (a decode) and `text` (their JSON) imported again. A text that fills its field to the last
// byte, or a text pool without room for every NUL, is only in a corrupt file (Tasmota ends each with a
// NUL): the decode shows it whole, as decode-config does, and the import refuses to write it back, naming
// the field. Anything else refused, or read back differently, breaks the invariant.
inline void check_round_trip(const nlohmann::ordered_json& fields, const std::string& text) {
  auto again = backup::read_settings_file(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  if (!again) {
    const auto& error = again.error();
    if (error.find("bytes do not fit") != std::string::npos || error.find("the text pool would need") != std::string::npos) return;
    broken("the exported JSON is refused by the import: " + error);
  }
  auto second = backup::SettingsLayouts::builtin().decode(again->file).fields;
  std::map<std::string_view, const nlohmann::ordered_json*> by_name;  // ordered_json looks keys up one by one
  for (auto& [k, v] : second.items()) by_name.emplace(k, &v);
  for (auto& [k, v] : fields.items()) {
    auto it = by_name.find(k);
    if (!header_field(k) && (it == by_name.end() || !same_values(v, *it->second)))
      broken(k + " exported " + shown(v) + ", imported " + (it == by_name.end() ? std::string("nothing") : shown(*it->second)));
  }
}

}  // namespace fleet::fuzz
