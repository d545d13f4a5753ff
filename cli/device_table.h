#pragma once
// How `tasmota-fleet devices` shows the inventory: a table for people, JSON for scripts.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "inventory/device_record.h"

namespace fleet::cli {

std::string render_table(const std::vector<inventory::DeviceRecord>& devices, std::int64_t now_ms);
std::string render_json(const std::vector<inventory::DeviceRecord>& devices);
std::string ago(std::int64_t then_ms, std::int64_t now_ms);  // "3s ago", "5m ago", "never"

}  // namespace fleet::cli
