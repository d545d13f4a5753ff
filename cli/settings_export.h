#pragma once
// A decoded settings file as the command line shows it: decode-config-style JSON (secrets masked unless
// asked) or Tasmota commands grouped as a replay sends them. Shared by `backup export` and `decode`.
#include <string>

#include <nlohmann/json.hpp>

#include "backup/dmp_file.h"
#include "backup/settings_layouts.h"

namespace fleet::cli {

// {"header": {version, platform, layout, notes…, plus `header`'s members}, every field…}
nlohmann::ordered_json settings_json(const backup::DmpFile& file, const backup::DecodedSettings& decoded, bool with_secrets,
                                     const nlohmann::ordered_json& header = nlohmann::ordered_json::object());

// `title` first ("# …" lines), then each group's commands packed as Backlogs.
std::string settings_command_text(const backup::DecodedSettings& decoded, bool with_secrets, const std::string& title);

}  // namespace fleet::cli
