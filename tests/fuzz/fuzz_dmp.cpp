// Settings files from outside (backup/settings_file.h): a .dmp as `backup import`, `decode` and a device's
// own download hand it in, then decoded (backup/settings_layouts.h) and turned into restore commands
// (backup/settings_commands.h). Checksums would stop almost every mutation at the door, so each input is
// also read a second time with its checksums made right first, as if the device had written it.
// Aborts on a decoded object that cannot be written out as JSON (every export and the database do), and
// when that JSON, read back as a settings file, is refused or decodes differently: `backup export
// --format json` then `backup import` must give the same settings (the header aside: checksums, save
// counters and the like are the new file's own; and a value that did not decode, null, stays unknown).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backup/dmp_file.h"
#include "backup/settings_commands.h"
#include "backup/settings_file.h"
#include "backup/settings_layouts.h"
#include "tests/fuzz/broken.h"

using namespace fleet::backup;

namespace {

// The input with its header kept, de-obfuscated, its checksums recomputed and obfuscated again.
std::vector<std::uint8_t> resealed(std::span<const std::uint8_t> bytes) {
  std::size_t header = bytes.size() >= 16 && std::memcmp(bytes.data(), "/.settings", 10) == 0 ? 16 : 0;
  DmpFile f;
  f.header.assign(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header));
  std::vector<std::uint8_t> body(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  for (std::size_t i = 2; i < body.size(); ++i) body[i] ^= std::uint8_t(0x5A + header + i);
  if (body.size() < 12) return {};
  std::uint32_t id = body[8] | body[9] << 8 | body[10] << 16 | std::uint32_t(body[11]) << 24;
  auto cfg = settings_size_for(id);
  if (!cfg || body.size() < *cfg) return {};
  f.settings.assign(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(*cfg));
  f.trailer.assign(body.begin() + static_cast<std::ptrdiff_t>(*cfg), body.end());
  f.seal();
  return f.bytes();
}

bool overfull(const std::string& error) {
  return error.find("bytes do not fit") != std::string::npos || error.find("the text pool would need") != std::string::npos;
}

bool header_field(const std::string& name) {
  for (const char* h :
       {"version", "cfg_size", "cfg_crc", "cfg_crc32", "config_version", "cfg_timestamp", "save_flag", "cfg_holder", "header"})
    if (name == h) return true;
  return false;
}

// Whether `again` holds every value of `first`; a null in `first` (a value that did not decode, such as
// a corrupt compressed rule) is no value, and the import leaves it as a blank file has it.
bool same_values(const nlohmann::ordered_json& first, const nlohmann::ordered_json& again) {
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

void use(std::span<const std::uint8_t> bytes) {
  auto read = read_settings_file(bytes);
  if (!read) return;
  const auto& layouts = SettingsLayouts::builtin();
  auto decoded = layouts.decode(read->file);
  std::string text;
  try {
    text = decoded.fields.dump();
  } catch (const nlohmann::json::exception&) {
    std::abort();  // e.g. a text field that is not UTF-8
  }
  for (const auto& group : settings_commands(decoded.fields, CommandOptions{true})) (void)pack_backlog(group.commands);
  (void)check_backup(read->file, read->file.version(), fleet::planner::Chip::ESP8266);
  (void)check_restorable(read->file, read->file.version(), fleet::planner::Chip::ESP32);

  if (read->kind != "dmp" || decoded.layout.empty()) return;
  auto again = read_settings_file(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  // A text that fills its field to the last byte, or a text pool without room for every NUL, is only in a
  // corrupt file (Tasmota ends each with a NUL). The decode shows it whole, as decode-config does; the
  // import refuses to write it back, saying which field.
  if (!again && overfull(again.error())) return;
  if (!again) fleet::fuzz::broken("the exported JSON is refused by the import: " + again.error());
  auto second = layouts.decode(again->file).fields;
  std::map<std::string_view, const nlohmann::ordered_json*> by_name;  // ordered_json looks keys up one by one
  for (auto& [k, v] : second.items()) by_name.emplace(k, &v);
  for (auto& [k, v] : decoded.fields.items()) {
    auto it = by_name.find(k);
    if (!header_field(k) && (it == by_name.end() || !same_values(v, *it->second)))
      fleet::fuzz::broken(k + " exported " + v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + ", imported " +
                          (it == by_name.end() ? std::string("nothing") : it->second->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> input(data, size);
  use(input);
  auto fixed = resealed(input);
  if (!fixed.empty() && !std::equal(fixed.begin(), fixed.end(), input.begin(), input.end())) use(fixed);
  return 0;
}
