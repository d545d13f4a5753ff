#pragma once
// One simulated Tasmota device, as pure logic: given the time and an incoming command it says what it
// publishes and whether it restarts. The runner (sim_runner) owns the network side. Payload shapes
// follow the version it pretends to run (FirmwareTraits).
#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backup/dmp_file.h"
#include "planner/version.h"
#include "sim/device_spec.h"
#include "sim/firmware_traits.h"

namespace fleet::sim {

struct Outgoing {
  std::string topic;
  std::string payload;
  bool retain = false;
};

struct Reaction {
  std::vector<Outgoing> publish;
  bool restart = false;         // Restart 1, Reset: reconnect as a freshly booted device
  // A setting that needs a restart (Topic, Module, GPIO, MqttHost…): Tasmota restarts once its
  // backlog has drained and a second or two have passed (support_tasmota.ino: restart_flag counts
  // down only while BACKLOG_EMPTY), so after the commands that follow on its heels, not before them.
  bool restart_when_idle = false;
  std::optional<std::string> fetch;  // OTA: download this URL over HTTP, then call ota_downloaded()
  bool bricked = false;         // flashed an image it cannot boot: drops off and never comes back
};

// A request to the device's web server (the runner does the HTTP; the device only decides).
struct WebRequest {
  std::string method;  // GET, POST
  std::string path;    // "/dl", "/rs", "/u2"
  std::optional<std::pair<std::string, std::string>> basic_auth;  // user, password
  std::optional<std::vector<std::uint8_t>> upload;  // the multipart field "u2" of a POST /u2
};

struct WebReply {
  int status = 200;
  std::string content_type = "text/html";
  std::vector<std::uint8_t> body;
  std::map<std::string, std::string> headers;
  bool restart = false;  // after an accepted settings upload
};

// The outcome of an OTA download (the runner does the HTTP).
struct OtaDownload {
  std::string url;
  int http_status = 0;  // 0: no connection
  std::vector<std::uint8_t> body;
  // Set when the download stopped after the headers: the size the server announced was larger than
  // the room the device has (the updater checks Content-Length before it reads the body).
  std::size_t declared_size = 0;
};

class SimDevice {
 public:
  SimDevice(DeviceSpec spec, std::int64_t boot_ms);

  const DeviceSpec& spec() const { return spec_; }
  const FirmwareTraits& traits() const { return traits_; }
  std::string topic() const { return spec_.settings.topic; }
  std::string client_id() const;
  std::string lwt_topic() const { return full(2, "LWT"); }
  std::vector<std::string> command_filters() const;

  // First MQTT connection after boot: LWT Online (retained) and INFO1–3. After a broker loss only the
  // LWT is re-published (the boot announcements are sent once per boot).
  std::vector<Outgoing> on_connected(std::int64_t now_ms);
  Outgoing state(std::int64_t now_ms) const;
  Reaction handle(std::string_view topic, std::string_view payload, std::int64_t now_ms);
  // Boots again: uptime from zero, boot count + 1, INFO1–3 on the next connection.
  void reboot(std::int64_t now_ms, std::string reason = "Software/System restart");

  std::string firmware_string() const;  // "9.1.0(tasmota)", "12.5.0(release-sensors)", "5.14.0"

  // What Tasmota does with a downloaded image (sim_ota.cpp): refuse it with the core's error text,
  // retry with the -minimal image when it does not fit, or report success and restart into it.
  Reaction ota_downloaded(const OtaDownload& download, std::int64_t now_ms);
  // A minimal build booted for the minimal step fetches the original OtaUrl again by itself.
  std::optional<std::string> take_boot_fetch();
  bool ota_in_progress() const { return ota_active_; }
  // Faults (sim/faults.h): a boot-loop crash is due after this boot; the runner crashes it.
  bool crash_due() const { return crashes_left_ > 0; }
  void crash(std::int64_t now_ms);
  bool in_safeboot() const { return safeboot_stage_; }
  // The settings fields ("pulse_timer/3", "flag/save_state") the commands handled so far were meant to
  // set, whether the value was taken or not: tests find with it what no command addresses.
  const std::set<std::string>& addressed_fields() const { return addressed_; }
  // The largest image the updater accepts now (free program space): the fetcher stops at the headers
  // of a larger one, as the device does.
  std::size_t ota_room_bytes() const { return static_cast<std::size_t>(std::max(0, spec_.free_kb)) * 1024; }

  // Configuration files (sim_config.cpp). The settings file (.dmp) as /dl and FileDownload hand it out,
  // named as Tasmota names it.
  std::vector<std::uint8_t> config_file() const;
  std::string config_filename() const;
  // Takes an uploaded settings file as Tasmota's SettingsConfigRestore does: empty on success (the
  // device must then restart), else why it refused it.
  std::string restore_config(std::span<const std::uint8_t> bytes);
  // The device's web server: GET /dl (backup), GET /rs (arms the settings upload), POST /u2 (upload).
  WebReply web(const WebRequest& request);

 private:
  std::string full(int prefix, std::string_view suffix) const;
  std::string hostname() const;
  std::string group_topic() const;
  std::string ota_url() const;
  std::int64_t uptime_s(std::int64_t now_ms) const { return (now_ms - boot_ms_) / 1000; }
  std::string uptime_text(std::int64_t now_ms) const;
  std::string time_text(std::int64_t now_ms) const;

  void command(std::string_view name, std::string_view arg, std::int64_t now_ms, Reaction& out, int depth);
  void reply(Reaction& out, std::string_view command_upper, std::string payload);
  // Where a reply to the command being handled goes: stat/<topic>/… or, for a command that came in on
  // the fallback topic, stat/<MqttClient>_fb/… (Tasmota's GetTopic_P while fallback_topic_flag is set).
  std::string stat(std::string_view suffix) const;
  std::string fallback_prefix(const char* prefix) const;
  void status(int which, std::int64_t now_ms, Reaction& out);
  std::string status_part(int which, std::int64_t now_ms) const;
  void reset_settings(int level);
  void file_download(std::string_view arg, bool group, Reaction& out);
  void file_upload(std::string_view arg, bool group, Reaction& out);
  bool has_mqtt_file() const;
  bool setting_command(const std::string& cmd, int index, bool has_index, std::string_view arg, Reaction& out);  // sim_setting_commands.cpp
  bool stored_command(const std::string& cmd, int index, bool has_index, std::string_view arg, Reaction& out);   // sim_stored_commands.cpp

  DeviceSpec spec_;
  planner::Version version_;
  FirmwareTraits traits_;
  std::int64_t boot_ms_;
  bool announced_ = false;
  bool via_group_ = false;     // the command being handled came in on the group topic
  bool via_fallback_ = false;  // ... on its fallback topic: its replies go to stat/<MqttClient>_fb/
  bool explicit_restart_ = false;  // the command handled was Restart, Reset or FileUpload: restart at once
  std::set<std::string> addressed_;
  void address(std::string_view path);  // sim_stored_commands.cpp
  bool power_ = false;      // the relay (Power, POWER1): what a restart cuts for what is plugged in

  // OTA state (Tasmota: ota_state_flag, RtcSettings.ota_loader)
  struct PendingImage {
    std::string version;
    std::string build;  // code image as the version string reports it
    int program_kb = 0;
  };
  bool ota_active_ = false;
  bool ota_loader_ = false;         // this download is the -minimal retry
  std::string ota_original_url_;
  std::optional<PendingImage> pending_;
  std::optional<std::string> boot_fetch_;
  void start_ota(Reaction& out, const std::string& url);
  int crashes_left_ = 0;         // boot-loop fault: crashes still to come after the last flash
  bool safeboot_stage_ = false;  // running the safeboot image of an ESP32 single-OTA layout
  void apply_pending();

  // Settings the struct does not model, as the last file taken (sim_settings.h); none after Reset 6.
  std::optional<backup::DmpFile> stored_;
  // Command state that outlives one command: the OpenTherm setpoints OT_Save_Setpoints keeps, and
  // the shutter measurements ShutterCalibration scales (xdrv_27_shutter.ino's messwerte, which start
  // as {30, 50, 70, 90, 100}).
  std::array<std::optional<std::int64_t>, 2> pending_setpoints_;
  std::array<int, 5> shutter_measured_ = {30, 50, 70, 90, 100};
  // An MQTT file transfer in progress (Tasmota's FMqtt).
  struct FileTransfer {
    bool upload = false;
    int id = 0;
    std::vector<std::uint8_t> buffer;
    std::size_t pos = 0;
    std::string md5;  // upload: announced by the client
  };
  std::optional<FileTransfer> transfer_;
  bool web_upload_armed_ = false;  // GET /rs? seen: the next /u2 is a settings file
};

}  // namespace fleet::sim
