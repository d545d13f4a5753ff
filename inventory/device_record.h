#pragma once
// What the fleet knows about one device. The MAC is the identity: a device that changes its topic,
// hostname or IP stays the same record.
#include <cstdint>
#include <optional>
#include <string>

namespace fleet::inventory {

// Every optional field of a record, in one list, so that merging, storing and printing cannot drift
// apart. X(kind, name): kind is Str (text) or Int (64-bit integer).
#define FLEET_DEVICE_FIELDS(X) \
  X(Str, topic)                \
  X(Str, hostname)             \
  X(Str, ip)                   \
  X(Str, module)               \
  X(Int, module_id)            \
  X(Str, friendly_name)        \
  X(Str, firmware)             \
  X(Str, version)              \
  X(Str, build)                \
  X(Str, core)                 \
  X(Str, sdk)                  \
  X(Str, hardware)             \
  X(Str, chip)                 \
  X(Int, flash_kb)             \
  X(Int, program_flash_kb)     \
  X(Int, program_kb)           \
  X(Int, free_kb)              \
  X(Str, ota_url)              \
  X(Str, restart_reason)       \
  X(Int, boot_count)           \
  X(Int, uptime_s)             \
  X(Int, rssi)                 \
  X(Int, signal_dbm)           \
  X(Str, group_topic)          \
  X(Str, full_topic)           \
  X(Str, prefixes)             \
  X(Str, web_server_mode)      \
  X(Str, power)                \
  X(Str, mqtt_client)

using Str = std::optional<std::string>;
using Int = std::optional<std::int64_t>;

// A partial view: what one message said about a device. Unset fields say nothing.
struct DeviceFacts {
#define FLEET_DECLARE(kind, name) kind name;
  FLEET_DEVICE_FIELDS(FLEET_DECLARE)
#undef FLEET_DECLARE
  Str mac;                     // normalized "AA:BB:CC:DD:EE:FF"
  std::optional<bool> online;  // from the LWT
  bool status_reply = false;   // this was an answer to Status
};

struct DeviceRecord {
  std::string mac;
#define FLEET_DECLARE(kind, name) kind name;
  FLEET_DEVICE_FIELDS(FLEET_DECLARE)
#undef FLEET_DECLARE
  bool online = false;
  std::int64_t first_seen_ms = 0;
  std::int64_t last_seen_ms = 0;
  std::int64_t status_at_ms = 0;  // last Status answer, 0 = never
  std::int64_t bad_payloads = 0;

  // Copies every field the facts set; returns whether anything changed.
  bool merge(const DeviceFacts& facts);
};

inline bool DeviceRecord::merge(const DeviceFacts& f) {
  bool changed = false;
#define FLEET_MERGE(kind, name)           \
  if (f.name && f.name != name) {         \
    name = f.name;                        \
    changed = true;                       \
  }
  FLEET_DEVICE_FIELDS(FLEET_MERGE)
#undef FLEET_MERGE
  if (f.online && *f.online != online) {
    online = *f.online;
    changed = true;
  }
  return changed;
}

// Folds later facts into earlier ones (for a device not identified yet).
inline void merge_facts(DeviceFacts& into, const DeviceFacts& f) {
#define FLEET_MERGE(kind, name) \
  if (f.name) into.name = f.name;
  FLEET_DEVICE_FIELDS(FLEET_MERGE)
#undef FLEET_MERGE
  if (f.mac) into.mac = f.mac;
  if (f.online) into.online = f.online;
  into.status_reply = into.status_reply || f.status_reply;
}

}  // namespace fleet::inventory
