#pragma once
// Reading what Tasmota publishes. Shapes differ between releases (see docs/tasmota-payloads.md):
// INFO1–3 are bare objects on old firmware and wrapped ({"Info1":{…}}) on newer; Status 0 is one
// combined STATUS0 message on newer firmware and one message per part (STATUS, STATUS1…11) on older;
// FriendlyName is a string on old firmware and an array on newer. Every field is type- and
// range-checked on its own: a bad field is dropped and reported, the good ones still count.
#include <string>
#include <string_view>
#include <vector>

#include "inventory/device_record.h"

namespace fleet::inventory {

enum class MessageKind { Lwt, Info1, Info2, Info3, State, Status, Result, Discovery, Ignored };

// From the last topic level (and prefix): "LWT", "INFO1", "STATE", "STATUS", "STATUS5", "STATUS0",
// "RESULT", anything else under stat/ (SetOption4 per-command replies) counts as a Result.
MessageKind classify(bool is_tele, std::string_view suffix);

struct ParseResult {
  DeviceFacts facts;
  std::string error;                 // whole message refused (not JSON, too deep, wrong shape)
  std::vector<std::string> dropped;  // fields refused, e.g. "StatusNET.Mac: not a MAC address"
  bool ok() const { return error.empty(); }
};

inline constexpr int kMaxJsonDepth = 32;

ParseResult parse_payload(MessageKind kind, std::string_view payload);

// "2C:3A:E8:12:34:56", "2c3ae8123456", "2C-3A-E8-12-34-56" → "2C:3A:E8:12:34:56"; empty if invalid.
std::string normalize_mac(std::string_view text);

// "1T02:33:26" (newer), "1 02:33:26" (older), "02:33:26" → seconds; -1 if invalid.
std::int64_t parse_uptime(std::string_view text);

}  // namespace fleet::inventory
