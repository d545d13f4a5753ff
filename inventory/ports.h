#pragma once
// The inventory's own port: where device records are kept (SQLite in production, a fake in unit tests).
// The ports every layer shares (clock, transport) are in core/.
#include <vector>

#include "core/clock.h"
#include "core/transport.h"
#include "inventory/device_record.h"

namespace fleet::inventory {

class InventoryStore {
 public:
  virtual ~InventoryStore() = default;
  virtual std::vector<DeviceRecord> load_devices() = 0;
  // One transaction for the whole batch: telemetry bursts must not cost a commit per message.
  virtual void save_devices(const std::vector<DeviceRecord>& batch) = 0;
  virtual void forget_device(const std::string& mac) = 0;  // a retired device's row, gone
};

}  // namespace fleet::inventory
