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
#include "tests/fuzz/settings_round_trip.h"

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
  fleet::fuzz::check_round_trip(decoded.fields, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> input(data, size);
  use(input);
  auto fixed = resealed(input);
  if (!fixed.empty() && !std::equal(fixed.begin(), fixed.end(), input.begin(), input.end())) use(fixed);
  return 0;
}
