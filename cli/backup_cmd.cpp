#include "cli/backup_cmd.h"

#include "cli/files.h"
#include "cli/settings_export.h"

#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "backup/dmp_file.h"
#include "backup/settings_commands.h"
#include "backup/settings_diff.h"
#include "backup/settings_layouts.h"
#include "orchestrator/backup_device_job.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_backup_store.h"
#include "store/sqlite_job_store.h"

namespace fleet::cli {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

std::string name_of(const inventory::DeviceRecord& d) { return d.topic.value_or(d.mac); }

backup::BackupSettings settings_of(const BackupOptions& o) {
  backup::BackupSettings s;
  if (o.method == "mqtt") s.method = backup::BackupSettings::Method::Mqtt;
  else if (o.method == "http") s.method = backup::BackupSettings::Method::Http;
  else if (o.method != "auto") throw std::runtime_error("--method must be auto, mqtt or http");
  s.snapshot = o.snapshot;
  return s;
}

}  // namespace

json load_credentials(const BackupOptions& o) {
  if (o.credentials_file.empty()) return json::object();
  auto bytes = read_all(o.credentials_file);
  if (!bytes) throw std::runtime_error("cannot read the device credentials file " + o.credentials_file);
  auto j = json::parse(bytes->begin(), bytes->end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw std::runtime_error(o.credentials_file + ": not a JSON object");
  return j;
}

orchestrator::DeviceAccess access_for(const BackupOptions& o, const json& credentials, const inventory::DeviceRecord& d) {
  orchestrator::DeviceAccess a = o.access;
  for (const std::string& key : {std::string("default"), d.mac, d.topic.value_or("")}) {
    if (key.empty() || !credentials.contains(key)) continue;
    auto& e = credentials[key];
    if (!e.is_object()) throw std::runtime_error(o.credentials_file + ": entry '" + key + "' is not an object");
    if (e.contains("mqtt_password")) a.mqtt_password = e["mqtt_password"].get<std::string>();
    if (e.contains("web_user")) a.web_user = e["web_user"].get<std::string>();
    if (e.contains("web_password")) a.web_password = e["web_password"].get<std::string>();
    if (e.contains("web_port")) a.web_port = e["web_port"].get<int>();
  }
  return a;
}

int run_backups(const BackupOptions& o, const std::vector<inventory::DeviceRecord>& devices) {
  auto s = settings_of(o);
  std::vector<std::shared_ptr<orchestrator::DeviceJob>> tasks;
  int failed = 0;
  const auto credentials = load_credentials(o);  // read once for the whole run
  store::Database db(o.db);
  store::migrate(db);
  store::SqliteJobStore jobs(db);
  for (const auto& d : devices) {
    if (auto why = orchestrator::backup_refusal(jobs, d, core::SystemClock().now_ms())) {
      std::cout << fmt::format("{}: not backed up: {}\n", name_of(d), *why);
      ++failed;
      continue;
    }
    auto access = access_for(o, credentials, d);
    auto settings = s;
    settings.device_mqtt_password = access.mqtt_password;
    tasks.push_back(std::make_shared<orchestrator::BackupDeviceJob>(d, access, settings));
  }
  orchestrator::run_locally(o.run, tasks);
  store::SqliteBackupStore backups(db);
  json report = json::array();
  for (auto& t : tasks) {
    auto& task = static_cast<orchestrator::BackupDeviceJob&>(*t);
    auto& job = task.job();
    json entry = {{"device", name_of(task.device())}, {"mac", task.device().mac}};
    if (!task.gave_up().empty()) entry["error"] = task.gave_up();
    if (job.result()) {
      auto id = backups.add(*job.result());
      auto& r = *job.result();
      entry["id"] = id;
      entry["method"] = r.method;
      entry["bytes"] = r.dmp.size();
      if (r.method == "snapshot") ++failed;
      if (!o.json) {
        if (r.method == "snapshot")
          std::cout << fmt::format("{}: SNAPSHOT ONLY, backup #{}: no usable settings file\n", name_of(task.device()), id);
        else
          std::cout << fmt::format("{}: backup #{} over {}, {} bytes, Tasmota {} on {}{}\n", name_of(task.device()), id, r.method, r.dmp.size(),
                                   r.version, r.chip, r.snapshot.empty() ? "" : ", with a snapshot of command replies");
      }
    } else {
      ++failed;
      if (!o.json) std::cout << fmt::format("{}: NOT BACKED UP{}\n", name_of(task.device()), task.gave_up().empty() ? "" : ": " + task.gave_up());
    }
    entry["problems"] = job.problems();
    entry["notes"] = job.notes();
    if (!o.json) {
      for (auto& p : job.problems()) std::cout << "  " << p << "\n";
      for (auto& n : job.notes()) std::cout << "  note: " << n << "\n";
    }
    report.push_back(entry);
  }
  if (o.keep > 0) {
    int pruned = backups.prune(o.keep);
    if (pruned && !o.json) std::cout << fmt::format("retention: {} older backup{} deleted (keeping {} per device and every pinned one)\n", pruned, pruned == 1 ? "" : "s", o.keep);
  }
  if (o.json) std::cout << report.dump(2) << "\n";
  return failed ? 1 : 0;
}

int list_backups(const std::string& path, const std::optional<std::string>& device, bool as_json) {
  store::Database db(path);
  store::migrate(db);
  store::SqliteBackupStore backups(db);
  std::optional<std::string> mac;
  if (device) {
    // MAC, topic or hostname, like everywhere else.
    auto q = db.prepare("SELECT mac FROM devices WHERE mac = ?1 OR topic = ?1 OR hostname = ?1");
    q.bind(1, *device);
    mac = q.step() ? q.text(0) : *device;
  }
  auto rows = backups.list(mac);
  if (as_json) {
    json out = json::array();
    for (auto& r : rows)
      out.push_back({{"id", r.id}, {"mac", r.device_mac}, {"topic", r.topic}, {"version", r.version}, {"chip", r.chip}, {"method", r.method},
                     {"bytes", r.bytes}, {"sha256", r.sha256}, {"file_name", r.file_name}, {"taken_ms", r.taken_ms},
                     {"pinned_by", r.pinned_by ? json(*r.pinned_by) : json(nullptr)}});
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (rows.empty()) {
    std::cout << "no backups" << (device ? " of " + *device : std::string()) << "\n";
    return 0;
  }
  auto now = core::SystemClock().now_ms();
  std::cout << fmt::format("{:>5}  {:<17}  {:<16}  {:<9}  {:<9}  {:<8}  {:>5}  {:<16}  {}\n", "ID", "MAC", "TOPIC", "VERSION", "CHIP", "METHOD", "BYTES",
                           "SHA-256", "TAKEN");
  for (auto& r : rows) {
    auto age_s = (now - r.taken_ms) / 1000;
    std::string age = age_s < 120 ? fmt::format("{}s ago", age_s) : age_s < 7200 ? fmt::format("{}m ago", age_s / 60) : fmt::format("{}h ago", age_s / 3600);
    std::cout << fmt::format("{:>5}  {:<17}  {:<16}  {:<9}  {:<9}  {:<8}  {:>5}  {:<16}  {}{}\n", r.id, r.device_mac, r.topic, r.version, r.chip, r.method,
                             r.bytes, r.sha256.substr(0, 16), age, r.pinned_by ? " (pinned by " + *r.pinned_by + ")" : "");
  }
  return 0;
}

int export_backup(const ExportOptions& o) {
  store::Database db(o.db);
  store::migrate(db);
  store::SqliteBackupStore backups(db);
  auto r = backups.get(o.id);
  if (!r) throw std::runtime_error(fmt::format("no backup #{}", o.id));
  auto write = [&](const std::string& text_or_bytes, const std::string& default_name) {
    std::string path = o.output.empty() ? default_name : o.output;
    if (path == "-" || path.empty()) {
      std::cout << text_or_bytes;
      return 0;
    }
    std::ofstream out(path, std::ios::binary);
    out << text_or_bytes;
    if (!out) throw std::runtime_error("cannot write " + path);
    std::cerr << fmt::format("backup #{} written to {}\n", o.id, path);
    return 0;
  };
  if (o.format == "dmp") {
    if (r->dmp.empty()) throw std::runtime_error(fmt::format("backup #{} is a snapshot only: there is no settings file to export", o.id));
    std::string name = r->file_name.empty() ? fmt::format("Config_{}_{}.dmp", r->topic, r->version) : r->file_name;
    return write(std::string(r->dmp.begin(), r->dmp.end()), name);
  }
  if (o.format != "json" && o.format != "commands") throw std::runtime_error("--format must be dmp, json or commands");
  if (r->dmp.empty()) throw std::runtime_error(fmt::format("backup #{} is a snapshot only: nothing to decode (its replies: `backups --json`)", o.id));
  auto file = backup::read_dmp(r->dmp);
  if (!file.file) throw std::runtime_error(fmt::format("backup #{}: {}", o.id, file.error));
  auto decoded = backup::SettingsLayouts::builtin().decode(*file.file);
  if (o.format == "json") {
    ordered_json header = {{"device", r->device_mac}, {"taken_ms", r->taken_ms}, {"sha256", r->sha256}};
    return write(settings_json(*file.file, decoded, o.with_secrets, header).dump(2) + "\n", "-");
  }
  auto title = fmt::format("# tasmota-fleet backup #{}: {} ({}), Tasmota {} on {}\n", o.id, r->topic, r->device_mac, r->version, decoded.platform);
  return write(settings_command_text(decoded, o.with_secrets, title), "-");
}

Result<backup::BackupRecord> take_settings_now(const BackupOptions& o, const inventory::DeviceRecord& d) {
  store::Database db(o.db);
  store::migrate(db);
  store::SqliteJobStore jobs(db);
  return orchestrator::take_settings_now(o.run, jobs, d, access_for(o, load_credentials(o), d), settings_of(o));
}

}  // namespace fleet::cli
