#pragma once
// Tasmota commands that put decoded settings back on a device: for `backup export --format commands`
// and for the restore fallback when a settings file cannot be uploaded. Ordered so that a device is
// never cut off halfway: plain settings first, then Module/Template/GPIO (they restart the device),
// then topics and MQTT last (after them the device answers elsewhere). Values that contain ';' are
// sent as commands of their own, never inside a Backlog, so they can never split into extra commands.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fleet::backup {

struct CommandGroup {
  std::string name;       // "settings", "hardware", "mqtt"
  bool restarts = false;  // the device restarts after this group: wait for it to come back Online
  std::vector<std::string> commands;  // "FriendlyName1 Kitchen", one command each
};

struct CommandOptions {
  bool with_secrets = false;  // MqttPassword, WebPassword, Wi-Fi passwords
};

std::vector<CommandGroup> settings_commands(const nlohmann::ordered_json& fields, const CommandOptions& options = {});

// Packs a group into MQTT payloads for cmnd/<topic>/Backlog (at most 30 commands and about 320
// characters each) and single commands for values containing ';'. Each entry: {command, payload}.
struct OutgoingCommand {
  std::string command;  // "Backlog" or the command name
  std::string payload;
};
std::vector<OutgoingCommand> pack_backlog(const std::vector<std::string>& commands, std::size_t max_commands = 30,
                                          std::size_t max_chars = 320);

}  // namespace fleet::backup
