#pragma once
// What changed between two decoded settings of one device (two backups, or a backup and the device
// now): every named leaf both hold that differs (volatile counters excluded, as a restore's verification
// compares), secrets named but never shown, and how many fields only one of the two layouts has (an
// upgrade between them adds and drops fields).
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backup/restore_job.h"

namespace fleet::backup {

// Passwords: a diff or an export shows them as changed or not, never their values.
const std::set<std::string>& secret_fields();

struct SettingsDiff {
  std::vector<FieldDifference> changed;     // expected = before, actual = after
  std::vector<std::string> secrets_changed;  // field paths only
  int only_before = 0, only_after = 0;      // fields one layout has and the other not
  bool empty() const { return changed.empty() && secrets_changed.empty(); }
};

SettingsDiff diff_settings(const nlohmann::ordered_json& before, const nlohmann::ordered_json& after);

}  // namespace fleet::backup
