#pragma once
// The encodings of Tasmota's MQTT file transfer (xdrv_02_1_mqtt_file.ino): chunks as base64 inside
// {"Id":n,"Data":"…"}, the whole file checked by its MD5 as 32 hex digits.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::backup {

std::string base64_encode(std::span<const std::uint8_t> bytes);
// nullopt on anything that is not canonical base64.
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);
std::string md5_hex(std::span<const std::uint8_t> bytes);  // lower case

}  // namespace fleet::backup
