#pragma once
// A settings file from outside (Tasmota's web UI, TasmoAdmin, TasmoBackup, decode-config): a .dmp, or a
// JSON backup (decode-config's, or `backup export --format json`'s) written into a blank .dmp of the
// version and platform it names. Either way the result is a sealed file that read_dmp takes.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backup/dmp_file.h"
#include "core/result.h"

namespace fleet::backup {

struct SettingsFile {
  DmpFile file;
  std::string kind;                // "dmp" or "json"
  std::vector<std::string> notes;  // what the JSON did not carry (masked secrets), or could not be written
};

// Refuses, with the reason, what is neither, what does not validate, and JSON whose values do not fit
// its layout.
Result<SettingsFile> read_settings_file(std::span<const std::uint8_t> bytes);

}  // namespace fleet::backup
