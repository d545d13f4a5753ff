#pragma once
// tasmota-fleet diff DEVICE [ID [ID]]: the named settings that changed between two of the device's
// backups, between one backup and the device now, or (no ID) between its newest backup and now.
#include <cstdint>
#include <vector>

#include "cli/backup_cmd.h"
#include "inventory/device_record.h"

namespace fleet::cli {

struct DiffOptions {
  BackupOptions backup;  // the database, and how to reach the device for "now"
  inventory::DeviceRecord device;
  std::vector<std::int64_t> ids;  // none, one or two backup ids
  bool json = false;
};

// Exit status as diff(1)'s: 0 the same, 1 something changed; a bad id (not this device's) throws.
int diff_device(const DiffOptions& options);

}  // namespace fleet::cli
