#include "cli/diff_cmd.h"

#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "backup/dmp_file.h"
#include "backup/settings_diff.h"
#include "backup/settings_layouts.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_backup_store.h"

namespace fleet::cli {
namespace {

using nlohmann::json;

// A backup's decoded settings; a snapshot-only backup has none (nothing to compare field by field).
nlohmann::ordered_json decoded(const backup::BackupRecord& r, const std::string& what) {
  if (r.dmp.empty()) throw std::runtime_error(what + " is a snapshot only: it holds no settings file to compare");
  auto file = backup::read_dmp(r.dmp);
  if (!file.file) throw std::runtime_error(what + ": " + file.error);
  return backup::SettingsLayouts::builtin().decode(*file.file).fields;
}

json side(const backup::BackupRecord& r, bool now) {
  return {{"backup", now ? json(nullptr) : json(r.id)}, {"version", r.version}, {"taken_ms", r.taken_ms}};
}

std::string label(const backup::BackupRecord& r, bool now) {
  return now ? fmt::format("the device now ({})", r.version) : fmt::format("backup #{} ({})", r.id, r.version);
}

}  // namespace

int diff_device(const DiffOptions& o) {
  if (o.ids.size() > 2) throw std::runtime_error("diff: at most two backup ids");
  const auto& d = o.device;
  const std::string name = d.topic.value_or(d.mac);
  std::optional<backup::BackupRecord> from, to;
  {
    store::Database db(o.backup.db);
    store::migrate(db);
    store::SqliteBackupStore backups(db);
    auto load = [&](std::int64_t id) {
      auto r = backups.get(id);
      if (!r) throw std::runtime_error(fmt::format("diff: no backup #{}", id));
      if (r->device_mac != d.mac) throw std::runtime_error(fmt::format("diff: backup #{} is of {}, not of {}", id, r->device_mac, name));
      return *r;
    };
    if (!o.ids.empty()) {
      from = load(o.ids[0]);
    } else {
      auto list = backups.list(d.mac);
      auto newest = std::find_if(list.begin(), list.end(), [](const auto& b) { return b.bytes > 0; });
      if (newest == list.end()) throw std::runtime_error(fmt::format("diff: {} has no backup with a settings file yet (take one: backup {})", name, name));
      from = load(newest->id);
    }
    if (o.ids.size() == 2) to = load(o.ids[1]);
  }
  bool now = !to;
  if (now) {
    auto taken = take_settings_now(o.backup, d);
    if (!taken) throw std::runtime_error(fmt::format("diff: the settings of {} cannot be taken now: {}", name, taken.error()));
    to = *taken;
  }
  auto result = backup::diff_settings(decoded(*from, fmt::format("backup #{}", from->id)), decoded(*to, now ? "the device's reply" : fmt::format("backup #{}", to->id)));
  if (o.json) {
    json changed = json::array();
    for (auto& c : result.changed) changed.push_back({{"field", c.field}, {"before", json::parse(c.expected, nullptr, false).is_discarded() ? json(c.expected) : json::parse(c.expected)},
                                                      {"after", json::parse(c.actual, nullptr, false).is_discarded() ? json(c.actual) : json::parse(c.actual)}});
    std::cout << json{{"device", name}, {"mac", d.mac}, {"from", side(*from, false)}, {"to", side(*to, now)}, {"changed", changed},
                      {"secrets_changed", result.secrets_changed}, {"only_in_from", result.only_before}, {"only_in_to", result.only_after}}
                     .dump(2)
              << "\n";
  } else {
    std::size_t n = result.changed.size() + result.secrets_changed.size();
    std::cout << fmt::format("{}: {} -> {}: {}\n", name, label(*from, false), label(*to, now),
                             n == 0 ? "no setting changed" : fmt::format("{} setting{} changed", n, n == 1 ? "" : "s"));
    for (auto& c : result.changed) std::cout << fmt::format("  {}: {} -> {}\n", c.field, c.expected, c.actual);
    for (auto& s : result.secrets_changed) std::cout << fmt::format("  {}: changed (a secret: its values are not shown)\n", s);
    if (result.only_before || result.only_after)
      std::cout << fmt::format("  ({} field{} only in {}'s layout, {} only in {}'s: not compared)\n", result.only_before,
                               result.only_before == 1 ? "" : "s", from->version, result.only_after, to->version);
  }
  return result.empty() ? 0 : 1;
}

}  // namespace fleet::cli
