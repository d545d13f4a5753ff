#pragma once
// The settings that are one field → one command (or one command per array element), as a table:
// decode-config's field name, Tasmota's command, how the value is written. Which command and which
// argument format: decode-config 15.0.1.3's per-field command lambdas (its `-T cmnd` output); where
// Tasmota's command code says otherwise the comment says so. The settings that need several fields
// or a computation (rules, timers, topics, Wi-Fi, interlocks …) are in settings_commands.cpp.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fleet::backup {

// When a command may be sent, given what it depends on.
enum class Stage {
  Settings,  // plain settings, before the hardware
  Hardware,  // Template, Module, GPIOs: the device restarts after them
  Network,   // after the hardware restart: what needs the module's relays, then Wi-Fi and MQTT
  Last,      // the very end, before Topic: cuts the connection or puts the device to sleep
};

enum class Form {
  Number,         // the decoded value as it is (hex texts such as LedMask "0x2c66" too)
  Text,           // the text; an empty one as `"`, Tasmota's clear (Shortcut SC_CLEAR)
  TextOrDefault,  // the text; an empty one as `1`, the firmware's default (SC_DEFAULT): no clear exists
  TextIfAny,      // the text; nothing when empty (the command cannot store an empty text)
  Tenths,         // stored in tenths: value / 10 with one decimal
  Twentieths,     // stored in steps of 0.05: value / 20 with two decimals
  Hundredths,     // stored in hundredths: value / 100
  Absolute,       // the magnitude (DisplayDimmer from display_dimmer_protected)
};

struct FieldCommand {
  const char* field;    // decode-config's name; "word/member" for a bit group; "a|b": the first present
  const char* command;  // "PulseTime#": '#' is the array index + first; "{}" marks where the value goes
  Form form = Form::Number;
  Stage stage = Stage::Settings;
  int add = 0;          // added to the value (Time is time_format + 1)
  int first = 1;        // the command index of the first array element
  bool secret = false;  // a credential: only with_secrets
};

std::span<const FieldCommand> field_commands();

// Resolves a table field name in a decoded object: "a|b" alternatives, ESP32 variant names
// (find_variant), "word/member". nullptr if absent or null.
const nlohmann::ordered_json* find_field(const nlohmann::ordered_json& fields, std::string_view name);

// The integer a decoded value stands for: a number, or a "0x…"/"0b…" text.
std::optional<std::int64_t> integer_of(const nlohmann::ordered_json& v);
// A number as Python prints it for decode-config's "{}": integers plainly, floats shortest.
std::string number_text(const nlohmann::ordered_json& v);

// The commands of one table entry for a decoded object ("PulseTime1 300", …), in array order.
std::vector<std::string> field_command_values(const FieldCommand& c, const nlohmann::ordered_json& value, std::uint32_t version);

}  // namespace fleet::backup
