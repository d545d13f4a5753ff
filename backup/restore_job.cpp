#include "backup/restore_job.h"

#include <fmt/format.h>

#include <algorithm>

#include "backup/gpio_numbering.h"
#include "backup/settings_layouts.h"
#include "backup/settings_migration.h"

namespace fleet::backup {
namespace {

using ojson = nlohmann::ordered_json;

// What replayed commands set (settings_commands.cpp): verification after a replay covers these only.
const std::set<std::string> kReplayedFields = {"friendlyname", "tele_period", "poweronstate", "ledstate", "save_data", "timezone",
                                               "latitude", "longitude", "ota_url", "syslog_host", "webserver", "rules", "timer",
                                               "user_template", "user_template_esp32", "templatename", "module", "module_esp32", "my_gp",
                                               "mqtt_grptopic", "mqtt_fulltopic", "mqtt_prefix", "mqtt_host", "mqtt_port", "mqtt_user",
                                               "mqtt_client", "hostname", "sta_ssid", "mqtt_topic"};

// Whether replaying commands sets this decoded field. Variant names (my_gp_esp32c3, module_esp32) count
// when the plain name is absent: on ESP8266 decode-config also lists a wider my_gp_esp32 alias of my_gp.
bool replayed(const std::string& name, const ojson& fields) {
  if (kReplayedFields.count(name)) return true;
  auto cut = name.find("_esp32");
  if (cut == std::string::npos) return false;
  auto base = name.substr(0, cut);
  return kReplayedFields.count(base) && !fields.contains(base);
}

bool is_gpio_path(const std::string& path) {
  return path.rfind("my_gp", 0) == 0 || path.find(".gpio") != std::string::npos;
}

void diff(const ojson& e, const ojson& a, const std::string& path, std::vector<FieldDifference>& out) {
  if (e.is_null()) return;  // nothing expected here (restrict_to)
  if (e.is_object()) {
    for (auto& [k, v] : e.items()) {
      if (!a.is_object() || !a.contains(k)) out.push_back({path + "." + k, v.dump(), "(missing)"});
      else diff(v, a[k], path + "." + k, out);
    }
    return;
  }
  if (e.is_array()) {
    for (std::size_t i = 0; i < e.size(); ++i) {
      auto p = fmt::format("{}[{}]", path, i);
      if (!a.is_array() || i >= a.size()) out.push_back({p, e[i].dump(), "(missing)"});
      else diff(e[i], a[i], p, out);
    }
    return;
  }
  if (e == a) return;
  if (e.is_number() && a.is_number()) {
    if (e.is_number_float() || a.is_number_float()) {
      if (std::abs(e.get<double>() - a.get<double>()) < 1e-6) return;
    } else if (is_gpio_path(path) && same_gpio_function(static_cast<std::uint16_t>(e.get<std::int64_t>()), static_cast<std::uint16_t>(a.get<std::int64_t>()))) {
      return;
    }
  }
  out.push_back({path, e.dump(), a.dump()});
}

}  // namespace

namespace {
// False when the field changed shape between the layouts (a group became a number: 8.x's template
// flag {adc0} is a plain value from 9.0): what the firmware makes of it cannot be expected.
bool restrict_one(ojson& expected, const ojson& source) {
  if (expected.is_object() != source.is_object() || expected.is_array() != source.is_array()) return false;
  if (expected.is_object()) {
    for (auto it = expected.begin(); it != expected.end();) {
      auto s = source.find(it.key());
      if (s == source.end() || !restrict_one(*it, *s)) it = expected.erase(it);
      else ++it;
    }
  } else if (expected.is_array()) {
    if (expected.size() > source.size()) expected.erase(expected.begin() + static_cast<std::ptrdiff_t>(source.size()), expected.end());
    for (std::size_t i = 0; i < expected.size(); ++i)
      if (!restrict_one(expected[i], source[i])) expected[i] = nullptr;  // kept in place, compared as nothing
  }
  return true;
}
}  // namespace

void restrict_to(ojson& expected, const ojson& source) {
  if (!restrict_one(expected, source)) expected = ojson::object();
}

ojson expected_settings(const SettingsLayouts& layouts, const DmpFile& target, const DmpFile& source_file) {
  ojson expected = layouts.decoded(target)->fields;
  auto decoded_source = layouts.decoded(source_file);  // (shared, not copied: only read, but for a rename)
  const ojson* source = &decoded_source->fields;
  ojson renamed;
  if (expected.contains("templatename") && !source->contains("templatename")) {
    renamed = *source;
    renamed["templatename"] = expected["templatename"];
    source = &renamed;
  }
  restrict_to(expected, *source);
  return expected;
}

const std::set<std::string>& volatile_fields() {
  static const std::set<std::string> fields = {"cfg_holder", "cfg_size",  "save_flag", "version",  "bootcount", "cfg_crc",
                                               "config_version", "cfg_timestamp", "cfg_crc32", "power", "power_esp32"};
  return fields;
}

std::vector<FieldDifference> compare_settings(const ojson& expected, const ojson& actual) {
  std::vector<FieldDifference> out;
  for (auto& [name, value] : expected.items()) {
    if (volatile_fields().count(name)) continue;
    // Under DHCP (no static address) the address fields are the network's, not the configuration's.
    if (name == "ip_address" && value.is_array() && !value.empty() && value[0] == "0.0.0.0") continue;
    if (!actual.contains(name)) {
      out.push_back({name, value.dump(), "(not in this firmware's layout)"});
      continue;
    }
    diff(value, actual[name], name, out);
  }
  return out;
}

RestoreJob::RestoreJob(BackupTarget device, std::vector<std::uint8_t> bytes, RestoreSettings settings)
    : device_(std::move(device)), file_bytes_(std::move(bytes)), settings_(std::move(settings)) {
  final_topic_ = device_.topic;
  auto r = read_dmp(file_bytes_);
  if (!r.file) {
    plan_.refusals.push_back("the backup is not a usable settings file: " + r.error);
    return;
  }
  file_ = *r.file;
  auto& layouts = SettingsLayouts::builtin();
  auto platform = platform_of(device_.chip);
  bool same_platform = platform && file_->platform().value_or(0) == *platform;
  bool newer = file_->version() > device_.version;
  if (newer) {
    plan_.refusals.push_back(fmt::format("the backup is from Tasmota {}, newer than the device's {}: upgrade the device first",
                                         file_->version().str(), device_.version.str()));
    return;
  }
  bool pre8_esp8266 = file_->platform().value_or(0) == 0 && file_->version() < planner::Version{8, 0, 0, 0} &&
                      device_.version >= planner::Version{9, 1, 0, 0};
  commands_only_ = settings_.method == RestoreSettings::Method::Commands || !same_platform || pre8_esp8266;
  // What the device should hold afterwards, in its own layout.
  DmpFile target = same_platform ? migrate_settings(*file_, device_.version, commands_only_ ? Migration::Translate : Migration::Firmware) : *file_;
  expected_ = expected_settings(layouts, target, *file_);
  if (expected_.contains("mqtt_topic") && expected_["mqtt_topic"].is_string() && !expected_["mqtt_topic"].get<std::string>().empty())
    final_topic_ = expected_["mqtt_topic"].get<std::string>();
  if (commands_only_) {
    auto groups = settings_commands(expected_, CommandOptions{true});
    if (!same_platform) {
      std::erase_if(groups, [](const CommandGroup& g) { return g.name == "hardware"; });
      plan_.steps.push_back(fmt::format("the backup is for {}, the device is {}: GPIOs, module and template are not carried over",
                                        platform_name(file_->platform().value_or(0)), planner::to_string(device_.chip)));
    }
    if (pre8_esp8266)
      plan_.steps.push_back(fmt::format("an ESP8266 file from {} uploaded to {} would come back as Wi-Fi and MQTT only: replaying commands instead",
                                        file_->version().str(), device_.version.str()));
    std::size_t n = 0;
    for (auto& g : groups) n += g.commands.size();
    plan_.how = fmt::format("replay {} commands generated from the backup's decoded settings", n);
    for (auto& g : groups)
      plan_.steps.push_back(fmt::format("send the {} commands ({}){}", g.name, g.commands.size(), g.restarts ? ", then wait for the restart" : ""));
    use_commands(std::move(groups));
  } else {
    plan_.how = fmt::format("upload the backup's .dmp ({} bytes, Tasmota {}) unchanged and let the firmware migrate it", file_bytes_.size(),
                            file_->version().str());
    if (settings_.method != RestoreSettings::Method::Http) plan_.steps.push_back("FileUpload over MQTT (probed; older firmware: HTTP)");
    if (settings_.method != RestoreSettings::Method::Mqtt) plan_.steps.push_back("else GET /rs? and POST /u2 on the device's web server");
    plan_.steps.push_back("wait for the device to restart");
    if (crosses_gpio_renumbering(file_->version(), device_.version, *platform))
      plan_.steps.push_back("the firmware renumbers the GPIOs from the pre-9.1 numbering: verified against the converted values");
  }
  if (settings_.verify) plan_.steps.push_back("download the settings again and compare every field (volatile counters excluded)");
  if (final_topic_ != device_.topic) plan_.steps.push_back(fmt::format("the device answers as '{}' afterwards (the backup's topic)", final_topic_));
}

std::vector<DeviceAction> RestoreJob::fail(std::string why) {
  problems_.push_back(std::move(why));
  phase_ = Phase::Finished;
  return {DeviceAction::finished()};
}

std::vector<DeviceAction> RestoreJob::start(std::int64_t now_ms) {
  if (!plan_.refusals.empty()) return fail(plan_.refusals.front());
  if (settings_.verify_only) {
    log_.push_back("the settings were restored before: verifying only");
    phase_ = Phase::AwaitRestart;  // what restarted() continues from
    group_index_ = groups_.size();
    return restarted(now_ms);
  }
  if (commands_only_) return begin_commands(now_ms);
  if (settings_.method == RestoreSettings::Method::Http) return begin_http(now_ms);
  phase_ = Phase::UploadMqtt;
  upload_.emplace(settings_.device_mqtt_password, file_bytes_, "Config.dmp");
  deadline_ms_ = now_ms + settings_.reply_timeout_ms;
  log_.push_back("FileUpload over MQTT");
  return {DeviceAction::publish(upload_->start())};
}

std::vector<DeviceAction> RestoreJob::begin_http(std::int64_t now_ms) {
  if (settings_.method == RestoreSettings::Method::Mqtt || device_.ip.empty()) return begin_commands(now_ms);
  phase_ = Phase::UploadHttpArm;
  log_.push_back("GET /rs? then POST /u2");
  return {DeviceAction::http_get("/rs?")};
}

void RestoreJob::use_commands(std::vector<CommandGroup> groups) {
  // Restarting groups end with an explicit restart, so the wait never depends on a value changing.
  for (auto& g : groups)
    if (g.restarts) g.commands.push_back("Restart 1");
  groups_ = std::move(groups);
  // Verification covers only what replaying sets.
  auto all = expected_;
  for (auto it = expected_.begin(); it != expected_.end();) {
    if (!replayed(it.key(), all)) it = expected_.erase(it);
    else ++it;
  }
}

std::vector<DeviceAction> RestoreJob::begin_commands(std::int64_t now_ms) {
  if (!commands_only_) {
    // The upload path is missing or was refused: replay commands from the decoded backup instead.
    log_.push_back("falling back to replaying commands");
    commands_only_ = true;
    auto migrated = migrate_settings(*file_, device_.version, Migration::Translate);
    use_commands(settings_commands(SettingsLayouts::builtin().decoded(migrated)->fields, CommandOptions{true}));
  }
  phase_ = Phase::Commands;
  group_index_ = 0;
  return send_command_group(now_ms);
}

std::vector<DeviceAction> RestoreJob::send_command_group(std::int64_t now_ms) {
  if (group_index_ >= groups_.size()) {
    if (!settings_.verify) {
      phase_ = Phase::Finished;
      return {DeviceAction::finished()};
    }
    return restarted(now_ms);  // the last group restarted the device already; verify now
  }
  auto& g = groups_[group_index_];
  std::vector<DeviceAction> out;
  for (auto& c : pack_backlog(g.commands)) out.push_back(DeviceAction::publish({c.command, c.payload}));
  log_.push_back(fmt::format("sent the {} commands", g.name));
  ++group_index_;
  if (g.restarts) {
    auto wait = await_restart(now_ms);
    out.insert(out.end(), wait.begin(), wait.end());
    return out;
  }
  auto more = send_command_group(now_ms);
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

std::vector<DeviceAction> RestoreJob::await_restart(std::int64_t now_ms) {
  phase_ = Phase::AwaitRestart;
  seen_offline_ = false;
  online_at_ms_ = 0;
  deadline_ms_ = now_ms + settings_.restart_timeout_ms;
  return {};
}

std::vector<DeviceAction> RestoreJob::restarted(std::int64_t now_ms) {
  online_at_ms_ = 0;
  seen_offline_ = false;
  log_.push_back("the device restarted");
  bool replaying = commands_only_ || repairing_;
  if (!replaying || group_index_ >= groups_.size()) at_final_topic_ = true;
  if (phase_ == Phase::AwaitRestart && replaying && group_index_ < groups_.size()) {
    phase_ = Phase::Commands;
    return send_command_group(now_ms);
  }
  if (!settings_.verify) {
    phase_ = Phase::Finished;
    return {DeviceAction::finished()};
  }
  phase_ = Phase::Verify;
  download_.emplace(settings_.device_mqtt_password);
  deadline_ms_ = now_ms + settings_.reply_timeout_ms;
  return {DeviceAction::publish(download_->start())};
}

namespace {

// The decoded field a difference is in: "user_template.gpio[8]" → "user_template".
std::string top_field(const std::string& path) { return path.substr(0, path.find_first_of(".[")); }

// Fields one command sets together: a replay of one needs the others' values too.
const std::vector<std::set<std::string>>& companions() {
  static const std::vector<std::set<std::string>> sets = {
      {"rules", "rule_enabled", "rule_once", "rule_stop"}, {"timezone", "timezone_minutes"}, {"tflag", "toffset"},
      {"user_template", "user_template_esp32", "templatename"}, {"sta_ssid", "sta_pwd"}};
  return sets;
}

}  // namespace

std::vector<DeviceAction> RestoreJob::begin_repair(std::int64_t now_ms) {
  std::set<std::string> names;
  for (auto& d : differences_) names.insert(top_field(d.field));
  for (auto& set : companions())
    for (auto& n : std::set<std::string>(names))
      if (set.count(n)) names.insert(set.begin(), set.end());
  ojson subset = ojson::object();
  for (auto& [k, v] : expected_.items())
    if (names.count(k)) subset[k] = v;
  auto groups = settings_commands(subset, CommandOptions{true});
  std::size_t n = 0;
  for (auto& g : groups) n += g.commands.size();
  std::string fields;
  for (auto& d : differences_) fields += (fields.empty() ? "" : ", ") + d.field;
  if (n == 0) {
    phase_ = Phase::Finished;
    problems_.push_back(fmt::format("verify: {} field{} differ and no command sets them: {}", differences_.size(), differences_.size() == 1 ? "" : "s",
                                    fields));
    return {DeviceAction::finished()};
  }
  log_.push_back(fmt::format("the device did not keep {} field{} of the file ({}): replaying {} commands for them", differences_.size(),
                             differences_.size() == 1 ? "" : "s", fields, n));
  repairing_ = true;
  for (auto& g : groups)
    if (g.restarts) g.commands.push_back("Restart 1");
  groups_ = std::move(groups);
  group_index_ = 0;
  phase_ = Phase::Commands;
  return send_command_group(now_ms);
}

std::vector<DeviceAction> RestoreJob::verify(const std::vector<std::uint8_t>& bytes, std::int64_t now_ms) {
  phase_ = Phase::Finished;
  auto r = read_dmp(bytes);
  if (!r.file) {
    problems_.push_back("verify: the device's settings file after the restore is not usable: " + r.error);
    return {DeviceAction::finished()};
  }
  auto actual = SettingsLayouts::builtin().decoded(*r.file);
  differences_ = compare_settings(expected_, actual->fields);
  // After an upload the firmware migrated the file itself; what it did not carry over is set by
  // commands, then verified again (once: what still differs then, no command sets). Not when only
  // looking (verify_only): a resumed job uploads the file again rather than replay it all.
  if (!differences_.empty() && !commands_only_ && !repairing_ && !settings_.verify_only) return begin_repair(now_ms);
  if (!differences_.empty()) {
    std::string list;
    for (std::size_t i = 0; i < differences_.size() && i < 20; ++i)
      list += fmt::format("\n  {}: expected {}, device has {}", differences_[i].field, differences_[i].expected, differences_[i].actual);
    if (differences_.size() > 20) list += fmt::format("\n  … and {} more", differences_.size() - 20);
    problems_.push_back(fmt::format("verify: {} field{} differ{}{}", differences_.size(), differences_.size() == 1 ? "" : "s",
                                    repairing_ ? " after replaying the commands for them" : "", list));
  } else {
    log_.push_back(fmt::format("verified: every compared field matches ({} fields)", expected_.size()));
  }
  return {DeviceAction::finished()};
}

std::vector<DeviceAction> RestoreJob::on_message(bool tele, std::string_view suffix, std::string_view payload, std::int64_t now_ms) {
  if (phase_ == Phase::AwaitRestart && tele) {
    if (suffix == "LWT") {
      if (payload == "Offline") {
        seen_offline_ = true;
        online_at_ms_ = 0;
      } else if (payload == "Online" && seen_offline_ && online_at_ms_ == 0) {
        // Tasmota publishes the LWT before it subscribes to its commands; INFO1 comes after. Wait for
        // INFO1, or a moment without it (firmware that announces nothing).
        online_at_ms_ = now_ms;
      }
    } else if (suffix == "INFO1") {
      return restarted(now_ms);
    }
    return {};
  }
  if (tele) return {};
  if (phase_ == Phase::UploadMqtt && upload_) {
    auto next = upload_->on_reply(suffix, payload);
    deadline_ms_ = now_ms + settings_.reply_timeout_ms;
    switch (upload_->state()) {
      case TransferState::Running:
        if (next) return {DeviceAction::publish(*next)};
        return {};
      case TransferState::Done:
        log_.push_back("the device took the file");
        return await_restart(now_ms);
      case TransferState::NotSupported:
        log_.push_back("no FileUpload on this firmware");
        return begin_http(now_ms);
      case TransferState::Failed:
        log_.push_back("FileUpload: " + upload_->error());
        return begin_http(now_ms);
    }
  }
  if (phase_ == Phase::Verify && download_) {
    auto next = download_->on_reply(suffix, payload);
    deadline_ms_ = now_ms + settings_.reply_timeout_ms;
    switch (download_->state()) {
      case TransferState::Running:
        if (next) return {DeviceAction::publish(*next)};
        return {};
      case TransferState::Done: return verify(download_->file(), now_ms);
      case TransferState::NotSupported:
      case TransferState::Failed:
        if (device_.ip.empty() || settings_.method == RestoreSettings::Method::Mqtt)
          return fail("verify: cannot read the settings back: " + download_->error());
        phase_ = Phase::VerifyHttp;
        return {DeviceAction::http_get("/dl")};
    }
  }
  return {};
}

std::vector<DeviceAction> RestoreJob::on_http(int status, std::optional<std::vector<std::uint8_t>> body, const std::string& error,
                                              std::int64_t now_ms) {
  switch (phase_) {
    case Phase::UploadHttpArm:
      if (!body) {
        log_.push_back("GET /rs?: " + error);
        return begin_commands(now_ms);
      }
      phase_ = Phase::UploadHttp;
      return {DeviceAction::http_post("/u2", file_bytes_)};
    case Phase::UploadHttp: {
      std::string page = body ? std::string(body->begin(), body->end()) : std::string();
      if (body && page.find("Successful") != std::string::npos) {
        log_.push_back("the device took the file");
        return await_restart(now_ms);
      }
      log_.push_back("POST /u2: " + (body ? "the device refused the file" : error));
      return begin_commands(now_ms);
    }
    case Phase::VerifyHttp:
      if (!body) return fail("verify: cannot read the settings back: " + error);
      return verify(*body, now_ms);
    default: break;
  }
  (void)status;
  return {};
}

// What on_time() looks at, and nothing else: a wait that runs out there must have its time here.
std::optional<std::int64_t> RestoreJob::wake_at_ms() const {
  switch (phase_) {
    case Phase::AwaitRestart:
      return online_at_ms_ > 0 ? std::min(deadline_ms_, online_at_ms_ + kQuietAfterOnlineMs) : deadline_ms_;
    case Phase::UploadMqtt:
    case Phase::Verify:
      return deadline_ms_;
    default:
      return std::nullopt;
  }
}

std::vector<DeviceAction> RestoreJob::on_time(std::int64_t now_ms) {
  if (phase_ == Phase::AwaitRestart && online_at_ms_ > 0 && now_ms - online_at_ms_ >= kQuietAfterOnlineMs) return restarted(now_ms);
  if (phase_ == Phase::Finished || now_ms < deadline_ms_) return {};
  switch (phase_) {
    case Phase::UploadMqtt:
      log_.push_back("FileUpload: no answer");
      return begin_http(now_ms);
    case Phase::AwaitRestart:
      return fail(fmt::format("the device did not come back within {} s", settings_.restart_timeout_ms / 1000));
    case Phase::Verify:
      if (device_.ip.empty()) return fail("verify: no answer to FileDownload");
      phase_ = Phase::VerifyHttp;
      return {DeviceAction::http_get("/dl")};
    default: return {};
  }
}

}  // namespace fleet::backup
