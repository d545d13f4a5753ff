#pragma once
// Putting a backup back on a device and proving it, as a pure state machine (like BackupJob):
// 1. decide how: upload the original .dmp unchanged (FileUpload over MQTT, probed; else GET /rs? and a
//    multipart POST /u2) and let the firmware migrate it; or replay commands generated from the decoded
//    fields when the chip family differs, the file is an ESP8266 file from before 8.0 going to 9.1+
//    (it would come back as Wi-Fi + MQTT only), or no upload path works;
// 2. wait for the restart: the boot announcement INFO1, or LWT Offline then Online and 3 s of quiet
//    (Tasmota publishes the LWT before it subscribes to its commands, INFO1 after);
// 3. verify: download the settings again, decode, and compare every field with what the backup becomes
//    on this firmware (settings_migration.h: the 9.1 GPIO renumbering included), except the fields that
//    legitimately change (volatile_fields()). After an upload, the fields that differ are set by
//    commands (those fields only), then verified again; what still differs then fails the restore,
//    naming field, old and new.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backup/backup_job.h"
#include "backup/dmp_file.h"
#include "backup/settings_commands.h"
#include "backup/settings_layouts.h"

namespace fleet::backup {

// Fields excluded from verification: counters and stamps every save or boot changes, and the power
// state, which is the device's, not its configuration.
const std::set<std::string>& volatile_fields();

struct FieldDifference {
  std::string field;  // "friendlyname[1]", "user_template.gpio[8]"
  std::string expected, actual;
};
// Every leaf where `actual` differs from `expected` (both decoded), volatile fields excluded, and the
// IP address fields when the backup uses DHCP. GPIO values compare as functions (User spelled 1 or 65504).
std::vector<FieldDifference> compare_settings(const nlohmann::ordered_json& expected, const nlohmann::ordered_json& actual);

// Keeps in `expected` only what the backup itself holds: fields, group members and array entries that
// exist in `source` (the backup decoded in its own layout). A newer firmware gives the fields it added
// its own defaults when it migrates a file, so nothing can be expected of them.
void restrict_to(nlohmann::ordered_json& expected, const nlohmann::ordered_json& source);
// What a device should hold after `source` was migrated to `target` (the device's layout): target's
// decoded fields restricted to what source holds, a field renamed on the way (the template name, moved
// to the text pool in 8.2.0.3) under its new name.
nlohmann::ordered_json expected_settings(const SettingsLayouts& layouts, const DmpFile& target, const DmpFile& source);

struct RestoreSettings {
  enum class Method { Auto, Mqtt, Http, Commands } method = Method::Auto;
  std::string device_mqtt_password;
  bool verify = true;
  // Only read the settings back and compare: the upload already happened (a job resumed after an
  // interruption never uploads twice).
  bool verify_only = false;
  std::int64_t reply_timeout_ms = 8000;
  std::int64_t restart_timeout_ms = 60000;
};

struct RestorePlan {
  std::string how;                 // "upload the .dmp over MQTT (FileUpload) …", "replay 24 commands …"
  std::vector<std::string> steps;  // for --dry-run
  std::vector<std::string> refusals;  // non-empty: it will not be done
};

class RestoreJob {
 public:
  RestoreJob(BackupTarget device, std::vector<std::uint8_t> backup_file, RestoreSettings settings);

  const RestorePlan& plan() const { return plan_; }
  // The topic the device will answer on after the restore (the backup's own topic), and the one its
  // commands go to now (the final one once the restoring restart is over).
  const std::string& final_topic() const { return final_topic_; }
  const std::string& command_topic() const { return at_final_topic_ ? final_topic_ : device_.topic; }

  std::vector<DeviceAction> start(std::int64_t now_ms);
  // prefix_tele: the message came under the tele prefix (LWT, INFO1…), else stat.
  std::vector<DeviceAction> on_message(bool prefix_tele, std::string_view suffix, std::string_view payload, std::int64_t now_ms);
  std::vector<DeviceAction> on_http(int status, std::optional<std::vector<std::uint8_t>> body, const std::string& error, std::int64_t now_ms);
  std::vector<DeviceAction> on_time(std::int64_t now_ms);
  // The earliest time on_time() may do anything; nullopt: nothing is timed (until the next reply).
  std::optional<std::int64_t> wake_at_ms() const;

  bool finished() const { return phase_ == Phase::Finished; }
  bool succeeded() const { return finished() && problems_.empty(); }
  const std::vector<std::string>& problems() const { return problems_; }
  const std::vector<std::string>& log() const { return log_; }
  const std::vector<FieldDifference>& differences() const { return differences_; }

 private:
  enum class Phase { UploadMqtt, UploadHttpArm, UploadHttp, Commands, AwaitRestart, Verify, VerifyHttp, Finished };
  std::vector<DeviceAction> fail(std::string why);
  std::vector<DeviceAction> begin_http(std::int64_t now_ms);
  std::vector<DeviceAction> begin_commands(std::int64_t now_ms);
  void use_commands(std::vector<CommandGroup> groups);  // the replay's groups; verification narrowed to them
  std::vector<DeviceAction> send_command_group(std::int64_t now_ms);
  std::vector<DeviceAction> await_restart(std::int64_t now_ms);
  std::vector<DeviceAction> restarted(std::int64_t now_ms);
  std::vector<DeviceAction> verify(const std::vector<std::uint8_t>& bytes, std::int64_t now_ms);
  std::vector<DeviceAction> begin_repair(std::int64_t now_ms);  // commands for exactly the fields that differ

  BackupTarget device_;
  std::vector<std::uint8_t> file_bytes_;
  std::optional<DmpFile> file_;
  RestoreSettings settings_;
  RestorePlan plan_;
  std::string final_topic_;
  nlohmann::ordered_json expected_;
  Phase phase_ = Phase::Finished;
  std::int64_t deadline_ms_ = 0;
  std::optional<FileUpload> upload_;
  std::optional<FileDownload> download_;
  std::vector<CommandGroup> groups_;
  std::size_t group_index_ = 0;
  bool seen_offline_ = false;
  std::int64_t online_at_ms_ = 0;  // LWT Online seen after Offline: INFO1 (or quiet) ends the wait
  static constexpr std::int64_t kQuietAfterOnlineMs = 3000;
  bool commands_only_ = false;
  bool repairing_ = false;  // replaying commands for the fields an upload did not carry over
  bool at_final_topic_ = false;
  std::vector<std::string> problems_;
  std::vector<std::string> log_;
  std::vector<FieldDifference> differences_;
};

}  // namespace fleet::backup
