#pragma once
// The named fields of a Tasmota settings image, for every layout from 6.0 to the newest that
// decode-config knows, ESP8266 and the ESP32 family. The layouts are data (backup/layouts.json:
// field, offset, type, array shape, bit position, text-pool index, first/last layout version,
// platforms), derived from decode-config's tables by tools/extract_dmp_layouts.py; names are
// decode-config's, so decoded files compare field by field with its JSON.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backup/dmp_file.h"

namespace fleet::backup {

struct DecodedSettings {
  std::string layout;              // the layout version used ("14.6.0.1" for a 15.0.1 file)
  std::string platform;            // "ESP8266", "ESP32-C3", …
  nlohmann::ordered_json fields;   // decode-config's names and value shapes (numbers stay numbers)
  std::vector<std::string> notes;  // what could not be decoded, and why
  nlohmann::ordered_json hidden = nlohmann::ordered_json::object();  // fields decode-config never shows (scripting_used…):
                                                                     // not compared or exported, but migrated
};

// decode-config's names for a field the ESP32 family or one of its variants keeps elsewhere: NAME,
// NAME_esp32, NAME_esp32s2, NAME_esp32s3, NAME_esp32c2, NAME_esp32c3, NAME_esp32c5, NAME_esp32c6, NAME_esp32p4.
std::vector<std::string> field_variants(std::string_view name);
// Of a name's variants (field_variants), the last one `present` says is there; empty if none. What
// find_variant takes in a decoded object, for callers that look the names up some other way.
template <typename Present>
std::string last_variant(std::string_view name, Present&& present) {
  auto names = field_variants(name);
  for (auto it = names.rbegin(); it != names.rend(); ++it)
    if (present(*it)) return *it;
  return {};
}
// The variant of `name` present in a decoded object, the most specific one first; nullptr if none.
const nlohmann::ordered_json* find_variant(const nlohmann::ordered_json& object, std::string_view name, std::string* found = nullptr);

class SettingsLayouts {
 public:
  // The layouts built into the program. Throws std::runtime_error if the embedded data is broken.
  static const SettingsLayouts& builtin();
  // Parses a layouts file (same format); throws std::runtime_error naming the problem.
  static SettingsLayouts parse(std::string_view json);

  SettingsLayouts(SettingsLayouts&&) noexcept;
  SettingsLayouts& operator=(SettingsLayouts&&) noexcept;
  ~SettingsLayouts();

  // Decodes every field this project names (see tools/extract_dmp_layouts.py) present in the file's
  // layout and platform.
  DecodedSettings decode(const DmpFile& file) const;
  // The same, shared: the last 16 files decoded are kept, and a reader of one of them gets it without a
  // copy (a job decodes its backup and its device's file several times; copying ~1,300 decoded values each
  // time was a tenth of the daemon's loop at 1,000 jobs in flight).
  std::shared_ptr<const DecodedSettings> decoded(const DmpFile& file) const;
  // What decode(file).fields holds at a path of names and indexes ("rules/2", "timer/3",
  // "flag3/timers_enable", "my_gp"), decoded alone; nullopt where decode shows nothing (no such field in
  // this layout, or hidden, or rules while the space holds a script). A simulated device reads a field or
  // two per command: decoding its ~1,300 values for that was most of the simulator's CPU.
  std::optional<nlohmann::ordered_json> decode_field(const DmpFile& file, std::string_view path) const;

  // Writes one field, given as a path of names and indexes ("friendlyname/0", "user_template/gpio/3",
  // "timer/0/arm", "flag/mqtt_response", "mqtt_topic") and a value in the decoded representation.
  // Returns an empty string, or why it could not (unknown field for this layout, too long, out of range).
  // The caller seals the file afterwards.
  std::string set(DmpFile& file, std::string_view path, const nlohmann::json& value) const;

  // Writes every value of a decoded object (decode()'s names and shapes, or decode-config's JSON, whose
  // "0x…" numbers are taken as numbers) into the file, except the header (version, sizes, checksums,
  // platform) and values the file already holds. Returns what could not be written, "path: why" each.
  // The caller seals the file afterwards.
  std::vector<std::string> encode(DmpFile& file, const nlohmann::ordered_json& fields) const;

  // Copies the stored bytes of each named top-level field from one file into another wherever both
  // files' layouts store it alike (type, shape, bit position, conversion; it may have moved), which
  // is nearly every field between two versions: a migration without a decode/encode per value.
  // Returns the names it did not copy (absent from either layout, or stored differently), for the
  // caller to write by value. Texts move between the two text pools. The caller seals `to`.
  std::vector<std::string> copy_stored(const DmpFile& from, DmpFile& to, const std::vector<std::string>& names) const;

  std::string newest_layout() const;
  std::string layout_for(std::uint32_t version_id) const;  // empty before the first layout

 private:
  SettingsLayouts();
  bool layout_compresses_rules(int layout, unsigned platform) const;
  DecodedSettings decode_uncached(const DmpFile& file) const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleet::backup
