#pragma once
// tasmota-fleet backup | backups | backup export: take validated backups of devices, list them, and
// export one as Tasmota's .dmp, decode-config-style JSON or replayable commands.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backup/backup_store.h"
#include "core/result.h"
#include "orchestrator/device_job.h"
#include "orchestrator/local_run.h"
#include "inventory/device_record.h"

namespace fleet::cli {

struct BackupOptions {
  std::string db;
  orchestrator::LocalRunOptions run;
  orchestrator::DeviceAccess access;  // fleet-wide
  std::string credentials_file;  // per device: {"<mac|topic>": {"mqtt_password", "web_user", "web_password", "web_port"}}
  std::string method = "auto";   // auto, mqtt, http
  bool snapshot = true;
  int keep = 0;                  // retention: keep the newest N per device (0: keep all)
  bool json = false;
};

// Exit 0 when every device has a validated settings file stored; 1 otherwise (each device says why).
int run_backups(const BackupOptions& options, const std::vector<inventory::DeviceRecord>& devices);
int list_backups(const std::string& db, const std::optional<std::string>& device, bool json);

struct ExportOptions {
  std::string db;
  std::int64_t id = 0;
  std::string format = "dmp";  // dmp, json, commands
  std::string output;          // file; "-" or empty for stdout (dmp: a file named as the device named it)
  bool with_secrets = false;
};
int export_backup(const ExportOptions& options);

// One device's settings taken now with these options' access (orchestrator::take_settings_now).
Result<backup::BackupRecord> take_settings_now(const BackupOptions& options, const inventory::DeviceRecord& device);

// The --device-credentials file, parsed (an empty object without one); throws naming the problem.
nlohmann::json load_credentials(const BackupOptions& options);
// Per-device access: the fleet-wide values overridden by the credentials file's entries ("default", then
// the MAC, then the topic).
orchestrator::DeviceAccess access_for(const BackupOptions& options, const nlohmann::json& credentials, const inventory::DeviceRecord& device);

}  // namespace fleet::cli
