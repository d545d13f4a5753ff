#include "cli/settings_export.h"

#include <fmt/format.h>

#include "backup/settings_commands.h"
#include "backup/settings_diff.h"

namespace fleet::cli {

using nlohmann::ordered_json;

ordered_json settings_json(const backup::DmpFile& file, const backup::DecodedSettings& decoded, bool with_secrets, const ordered_json& header) {
  ordered_json out = decoded.fields;
  if (!with_secrets)
    for (auto& k : backup::secret_fields())
      if (out.contains(k)) {
        auto& v = out[k];
        if (v.is_array()) {
          for (auto& e : v) e = "********";
        } else {
          v = "********";
        }
      }
  ordered_json doc = {{"header", {{"version", file.version().str()}, {"platform", decoded.platform}, {"layout", decoded.layout}}}};
  for (auto& [k, v] : header.items()) doc["header"][k] = v;
  if (!decoded.notes.empty()) doc["header"]["notes"] = decoded.notes;
  for (auto& [k, v] : out.items()) doc[k] = v;
  return doc;
}

std::string settings_command_text(const backup::DecodedSettings& decoded, bool with_secrets, const std::string& title) {
  std::string text = title;
  if (!with_secrets) text += "# secrets left out (MqttPassword, WebPassword, Wi-Fi passwords): add --with-secrets\n";
  for (auto& n : decoded.notes) text += "# note: " + n + "\n";
  backup::CommandOptions co;
  co.with_secrets = with_secrets;
  for (auto& g : backup::settings_commands(decoded.fields, co)) {
    text += fmt::format("# {}{}\n", g.name, g.restarts ? " (the device restarts after these: wait for it to come back)" : "");
    for (auto& c : backup::pack_backlog(g.commands)) text += c.command + (c.payload.empty() ? "" : " " + c.payload) + "\n";
  }
  return text;
}

}  // namespace fleet::cli
