#include "cli/settings_file_cmd.h"

#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "backup/settings_file.h"
#include "backup/settings_layouts.h"
#include "cli/files.h"
#include "cli/settings_export.h"
#include "planner/chip.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_backup_store.h"
#include "store/sqlite_inventory_store.h"

namespace fleet::cli {
namespace {

using nlohmann::ordered_json;

Result<backup::SettingsFile> load(const std::string& path) {
  auto bytes = read_all(path);
  if (!bytes) return fail(fmt::format("cannot read {}", path));
  return backup::read_settings_file(*bytes);
}

std::string text_of(const ordered_json& fields, const char* name) {
  auto it = fields.find(name);
  return it != fields.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The device a file belongs to: the one named, else the one whose topic or hostname the file holds.
Result<inventory::DeviceRecord> owner(const std::vector<inventory::DeviceRecord>& all, const std::optional<std::string>& named,
                                      const ordered_json& fields) {
  if (named) {
    for (auto& d : all)
      if (d.mac == *named || d.topic == *named || d.hostname == *named) return d;
    return fail(fmt::format("no device '{}' in the inventory", *named));
  }
  auto topic = text_of(fields, "mqtt_topic"), host = text_of(fields, "hostname");
  std::vector<const inventory::DeviceRecord*> found;
  for (auto& d : all)
    if ((!topic.empty() && d.topic == topic) || (!host.empty() && d.hostname == host)) found.push_back(&d);
  if (found.size() == 1) return *found[0];
  if (found.empty())
    return fail(fmt::format("no device of the inventory has its topic '{}' or hostname '{}': name it with --device MAC|TOPIC", topic, host));
  return fail(fmt::format("{} devices of the inventory match its topic '{}' or hostname '{}': name one with --device MAC|TOPIC", found.size(), topic,
                          host));
}

}  // namespace

int decode_file(const DecodeOptions& o) {
  if (o.format != "text" && o.format != "json" && o.format != "commands") throw std::invalid_argument("--format must be text, json or commands");
  auto in = load(o.file);
  if (!in) {
    if (o.format == "json") std::cout << ordered_json{{"file", o.file}, {"valid", false}, {"reason", in.error()}}.dump(2) << "\n";
    else std::cout << fmt::format("{}: not valid: {}\n", o.file, in.error());
    return 1;
  }
  auto decoded = backup::SettingsLayouts::builtin().decode(in->file);
  for (auto& n : in->notes) decoded.notes.push_back(n);
  if (o.format == "json") {
    ordered_json header = {{"file", o.file}, {"valid", true}, {"read_as", in->kind}};
    std::cout << settings_json(in->file, decoded, o.with_secrets, header).dump(2) << "\n";
    return 0;
  }
  if (o.format == "commands") {
    std::cout << settings_command_text(decoded, o.with_secrets,
                                       fmt::format("# {}: Tasmota {} on {} (valid)\n", o.file, in->file.version().str(), decoded.platform));
    return 0;
  }
  auto& f = in->file;
  std::cout << fmt::format("{}: valid {} settings file\n", o.file, in->kind == "dmp" ? ".dmp" : "JSON");
  std::cout << fmt::format("  Tasmota {} on {}, {} bytes, {} {}, read with the {} layout\n", f.version().str(), decoded.platform, f.settings.size(),
                           f.uses_crc32() ? "CRC-32" : "checksum", f.uses_crc32() ? fmt::format("0x{:08x}", f.stored_crc32()) : fmt::format("0x{:04x}", f.stored_crc16()),
                           decoded.layout);
  for (auto& n : decoded.notes) std::cout << "  note: " << n << "\n";
  auto doc = settings_json(f, decoded, o.with_secrets);
  doc.erase("header");
  for (auto& [k, v] : doc.items()) std::cout << fmt::format("{}: {}\n", k, v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return 0;
}

int import_backups(const ImportOptions& o) {
  store::Database db(o.db);
  store::migrate(db);
  store::SqliteInventoryStore inventory(db);
  store::SqliteBackupStore backups(db);
  auto all = inventory.load_devices();
  int failed = 0;
  ordered_json report = ordered_json::array();
  for (auto& path : o.files) {
    auto refuse = [&](const std::string& why) {
      ++failed;
      if (o.json) report.push_back({{"file", path}, {"stored", false}, {"reason", why}});
      else std::cout << fmt::format("{}: not imported: {}\n", path, why);
    };
    auto in = load(path);
    if (!in) {
      refuse(in.error());
      continue;
    }
    auto decoded = backup::SettingsLayouts::builtin().decode(in->file);
    auto device = owner(all, o.device, decoded.fields);
    if (!device) {
      refuse(device.error());
      continue;
    }
    // As a backup the daemon took, except that the file may come from an older firmware than the
    // device runs now: then it must be one the device's restore takes (same chip, not newer).
    auto version = planner::Version::parse(device->version.value_or(""));
    auto chip = planner::parse_chip(device->chip.value_or(""));
    if (!version) {
      refuse(fmt::format("the device {} has reported no version yet: cannot tell whether the file fits it", device->mac));
      continue;
    }
    auto problems = backup::check_restorable(in->file, *version, chip);
    if (!problems.empty()) {
      refuse(fmt::format("it does not fit {} (Tasmota {} on {}): {}", device->mac, version->str(), device->chip.value_or("?"), fmt::join(problems, "; ")));
      continue;
    }
    backup::BackupRecord r;
    r.device_mac = device->mac;
    r.topic = device->topic.value_or("");
    r.version = in->file.version().str();
    r.chip = device->chip.value_or("");
    r.method = "import";
    r.dmp = in->file.bytes();
    r.bytes = static_cast<std::int64_t>(r.dmp.size());
    r.file_name = std::filesystem::path(path).filename().string();
    if (in->kind == "json") r.file_name = std::filesystem::path(path).stem().string() + ".dmp";
    r.taken_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    r.note = fmt::format("imported from {} ({})", path, in->kind);
    for (auto& n : in->notes) r.note += "; " + n;
    auto id = backups.add(r);
    if (o.json) {
      report.push_back({{"file", path}, {"stored", true}, {"id", id}, {"device", device->mac}, {"version", r.version}, {"notes", in->notes}});
    } else {
      std::cout << fmt::format("{}: backup #{} of {} ({}), Tasmota {}\n", path, id, device->mac, r.topic, r.version);
      for (auto& n : in->notes) std::cout << "  note: " << n << "\n";
    }
  }
  if (o.json) std::cout << report.dump(2) << "\n";
  return failed ? 1 : 0;
}

}  // namespace fleet::cli
