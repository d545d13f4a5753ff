#pragma once
// Taking one device's backup, as a pure state machine the caller drives with the device's replies,
// HTTP results and the time: the settings file over MQTT (FileDownload, probed: older firmware answers
// "Unknown"), else over HTTP (/dl), validated against what the device reports (dmp_file.h); then a
// snapshot of command replies beside it. Nothing here does I/O, so the daemon's step machine and the
// CLI run the same logic.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backup/backup_store.h"
#include "backup/file_transfer.h"
#include "planner/chip.h"
#include "planner/version.h"

namespace fleet::backup {

struct BackupTarget {
  std::string mac;
  std::string topic;
  std::string ip;
  planner::Version version;
  planner::Chip chip = planner::Chip::Unknown;
};

struct BackupSettings {
  enum class Method { Auto, Mqtt, Http } method = Method::Auto;
  std::string device_mqtt_password;  // FileDownload must quote the device's own MqttPassword
  bool snapshot = true;
  std::int64_t reply_timeout_ms = 8000;  // per message of the transfer / per snapshot command
};

// What the caller of a device job (backup, restore) must do next.
struct DeviceAction {
  enum class Kind { None, Publish, HttpGet, HttpPost, Finished } kind = Kind::None;
  DeviceCommand command;                  // Publish: send to the device's command topic
  std::string path;                       // HttpGet/HttpPost: "/dl", "/rs?", "/u2" on the device's web server
  std::vector<std::uint8_t> upload;       // HttpPost: the file for the multipart field "u2"

  static DeviceAction publish(DeviceCommand command) { return {Kind::Publish, std::move(command), {}, {}}; }
  static DeviceAction http_get(std::string path) { return {Kind::HttpGet, {}, std::move(path), {}}; }
  static DeviceAction http_post(std::string path, std::vector<std::uint8_t> file) { return {Kind::HttpPost, {}, std::move(path), std::move(file)}; }
  static DeviceAction finished() { return {Kind::Finished, {}, {}, {}}; }
};

// The commands whose replies make the snapshot: what a device reports about its configuration.
// Replies to password commands are masked by the firmware, so credentials are only in the .dmp.
const std::vector<std::string>& snapshot_commands();

class BackupJob {
 public:
  BackupJob(BackupTarget target, BackupSettings settings);

  std::vector<DeviceAction> start(std::int64_t now_ms);
  // A message the device published under its stat prefix (suffix: "FILEDOWNLOAD", "RESULT", "STATUS0" …).
  std::vector<DeviceAction> on_message(std::string_view suffix, std::string_view payload, std::int64_t now_ms);
  // The outcome of the HttpGet action: the body of GET /dl, or an error.
  std::vector<DeviceAction> on_http(std::optional<std::vector<std::uint8_t>> body, const std::string& error, std::int64_t now_ms);
  std::vector<DeviceAction> on_time(std::int64_t now_ms);
  // The earliest time on_time() may do anything; nullopt: nothing is timed (until the next reply).
  std::optional<std::int64_t> wake_at_ms() const;

  bool finished() const { return phase_ == Phase::Finished; }
  // Finished: the backup to store (with a file, or a snapshot only), or nothing and the reasons.
  const std::optional<BackupRecord>& result() const { return result_; }
  const std::vector<std::string>& problems() const { return problems_; }
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  enum class Phase { Mqtt, Http, Snapshot, Finished };
  std::vector<DeviceAction> begin_http(std::int64_t now_ms);
  std::vector<DeviceAction> begin_snapshot(std::int64_t now_ms);
  std::vector<DeviceAction> next_snapshot_commands(std::int64_t now_ms);
  std::vector<DeviceAction> snapshot_reply(std::size_t index, nlohmann::ordered_json reply, std::int64_t now_ms);
  std::vector<DeviceAction> finish();
  bool accept_file(const std::vector<std::uint8_t>& bytes, const std::string& method, const std::string& file_name);

  BackupTarget target_;
  BackupSettings settings_;
  Phase phase_ = Phase::Mqtt;
  std::optional<FileDownload> download_;
  std::int64_t deadline_ms_ = 0;
  std::optional<BackupRecord> result_;
  BackupRecord record_;
  bool have_file_ = false;
  std::vector<std::string> problems_;
  std::vector<std::string> notes_;
  // snapshot: Status 0 alone first (older firmware answers it in a dozen messages), then the other
  // queries a few at a time (read-only; each reply names its command; Tasmota answers in order).
  static constexpr std::size_t kSnapshotWindow = 4;
  std::size_t snapshot_next_ = 0;                        // the next command to send
  std::map<std::size_t, std::int64_t> snapshot_waiting_;  // sent, not answered: index -> deadline
  int snapshot_timeouts_ = 0;  // in a row: a device that stopped answering ends the snapshot
  std::map<std::size_t, nlohmann::ordered_json> snapshot_replies_;  // index -> reply (null: none came)
  nlohmann::ordered_json status0_ = nlohmann::ordered_json::object();  // Status 0's parts so far
};

}  // namespace fleet::backup
