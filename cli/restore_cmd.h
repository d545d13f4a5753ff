#pragma once
// tasmota-fleet restore DEVICE [--backup ID] [--dry-run]: says what it will do, then puts the backup
// back on the device and proves it by reading the settings back (backup/restore_job.h).
#include <optional>
#include <string>

#include "cli/backup_cmd.h"

namespace fleet::cli {

struct RestoreOptions {
  BackupOptions base;  // database, broker, topics, device access
  std::optional<std::int64_t> backup_id;  // default: the device's newest backup with a settings file
  std::string method = "auto";            // auto, mqtt, http, commands
  bool dry_run = false;
  bool verify = true;
};

// Exit 0: restored (and verified unless --no-verify); 1: refused or failed, with the reasons.
int run_restore(const RestoreOptions& options, const inventory::DeviceRecord& device);

}  // namespace fleet::cli
