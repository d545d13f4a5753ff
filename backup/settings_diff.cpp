#include "backup/settings_diff.h"

namespace fleet::backup {

const std::set<std::string>& secret_fields() {
  static const std::set<std::string> fields = {"mqtt_pwd", "sta_pwd", "web_password"};
  return fields;
}

SettingsDiff diff_settings(const nlohmann::ordered_json& before, const nlohmann::ordered_json& after) {
  SettingsDiff out;
  for (auto& d : compare_settings(before, after)) {
    auto top = d.field.substr(0, d.field.find_first_of(".["));
    if (!after.contains(top)) {
      ++out.only_before;
    } else if (secret_fields().count(top)) {
      out.secrets_changed.push_back(d.field);
    } else {
      out.changed.push_back(std::move(d));
    }
  }
  for (auto& [name, value] : after.items())
    if (!before.contains(name) && !volatile_fields().count(name)) ++out.only_after;
  return out;
}

}  // namespace fleet::backup
