// The setting commands a configuration replay sends that live only in the settings file (everything
// sim_setting_commands.cpp and sim_device.cpp do not model in DeviceSettings): written into the
// device's .dmp the way Tasmota's command handlers store them. Each entry names its handler; ranges
// and conversions are the handler's (support_command.ino, xdrv_02_9_mqtt.ino, xdrv_03_energy.ino,
// xdrv_10_rules.ino, xdrv_09_timers.ino, xdrv_27_shutter.ino, …), or, for the drivers whose code was not
// read, the range Tasmota's command reference gives (tasmota/docs Commands.md), else the value as
// given. Arguments are read as CommandHandler reads them: XdrvMailbox.payload is strtol(data, 0)
// saturated to 32 bits, or the state words (off/on/toggle …), -99 without a number.
//
// The simulated device has every driver present and configured: spec().relays relays, every PWM,
// LED, shutter and sensor pin, an energy monitor. Tasmota answers a command of a driver the build
// lacks with "Unknown" and one that needs hardware (PinUsed, shutters_present) with nothing; the
// simulator accepts them all.
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "backup/setting_options.h"
#include "backup/settings_layouts.h"
#include "planner/chip.h"
#include "sim/sim_device.h"
#include "sim/sim_settings.h"
#include "sim/text.h"

namespace fleet::sim {
namespace {

using ojson = nlohmann::ordered_json;

// CommandHandler: payload = strtol(data, 0) (decimal, 0x hex, 0 octal), -99 without digits, and the
// words GetStateNumber knows. long is 32 bits on the ESP: strtol saturates there.
struct Arg {
  std::string_view data;
  std::int64_t payload = -99;
  bool empty() const { return data.empty(); }
};

Arg parse_arg(std::string_view data) {
  Arg a{data == "?" ? std::string_view{} : data};
  std::string s(a.data);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 0);
  if (end != s.c_str()) a.payload = std::clamp<long long>(v, INT32_MIN, INT32_MAX);
  auto u = upper(s);
  if (u == "OFF" || u == "FALSE" || u == "STOP" || u == "CELSIUS") a.payload = 0;
  if (u == "ON" || u == "TRUE" || u == "START" || u == "FAHRENHEIT" || u == "USER") a.payload = 1;
  if (u == "TOGGLE") a.payload = 2;
  if (u == "BLINK") a.payload = 3;
  if (u == "BLINKOFF") a.payload = 4;
  return a;
}

// The simulator's marker for MQTT_GRPTOPIC (DeviceSettings keeps the default group topic empty).
constexpr const char* kDefaultGroupMarker = "\001default";

// Tasmota's float parsing (CharToFloat) works in single precision.
float to_float(std::string_view s) { return std::strtof(std::string(s).c_str(), nullptr); }

// The device's settings file while a command changes it: read through the decoded fields, written
// by path, sealed and kept when the command is done.
class Store {
 public:
  Store(const DeviceSpec& spec, const planner::Version& v, std::optional<backup::DmpFile>& stored, std::set<std::string>& addressed)
      : stored_(stored), addressed_(addressed), file_(settings_file(spec, v, stored)) {}
  // The field name this layout has for `name` (its ESP32 variant, or one of "a|b"); empty if none.
  std::string key(std::string_view name) const {
    while (!name.empty()) {
      auto bar = name.find('|');
      auto found = backup::last_variant(name.substr(0, bar), [&](const std::string& n) {
        auto* v = top(n);
        return v && !v->is_null();
      });
      if (!found.empty()) return found;
      if (bar == std::string_view::npos) break;
      name.remove_prefix(bar + 1);
    }
    return {};
  }
  // The decoded value at "name", "name/member" or "name/<i>" (variants resolved); nullptr if none.
  const ojson* get(std::string_view path) const {
    auto slash = path.find('/');
    auto k = key(path.substr(0, slash));
    if (k.empty()) return nullptr;
    const ojson* v = top(k);
    while (slash != std::string_view::npos) {
      path.remove_prefix(slash + 1);
      slash = path.find('/');
      auto part = std::string(path.substr(0, slash));
      if (v->is_object() && v->contains(part)) v = &(*v)[part];
      else if (v->is_array() && !part.empty() && std::isdigit(static_cast<unsigned char>(part[0])) && std::stoul(part) < v->size()) v = &(*v)[std::stoul(part)];
      else return nullptr;
    }
    return v;
  }
  std::int64_t number(std::string_view path, std::int64_t fallback = 0) const {
    auto* v = get(path);
    if (!v) return fallback;
    if (v->is_number_integer() || v->is_number_unsigned()) return v->get<std::int64_t>();
    if (v->is_number_float()) return static_cast<std::int64_t>(v->get<double>());
    if (v->is_string()) {
      auto s = v->get<std::string>();
      try {
        if (s.rfind("0x", 0) == 0) return static_cast<std::int64_t>(std::stoull(s.substr(2), nullptr, 16));
        if (s.rfind("0b", 0) == 0) return static_cast<std::int64_t>(std::stoull(s.substr(2), nullptr, 2));
      } catch (...) {
      }
    }
    return fallback;
  }
  std::size_t size(std::string_view name) const {
    auto* v = get(name);
    return v && v->is_array() ? v->size() : 0;
  }
  bool has(std::string_view path) const { return get(path) != nullptr; }
  // The path with its field name resolved to this layout's ("my_gp/3" → "my_gp_esp32/3"); empty if none.
  std::string resolved(std::string_view path) const {
    auto slash = path.find('/');
    auto k = key(path.substr(0, slash));
    if (k.empty()) return {};
    return k + (slash == std::string_view::npos ? std::string() : std::string(path.substr(slash)));
  }
  // Marks a field as one the command is meant to set (SimDevice::addressed_fields).
  void address(std::string_view path) {
    if (auto full = resolved(path); !full.empty()) addressed_.insert(full);
  }
  // Writes one value (the decoded representation) at a path of this layout; false if it cannot.
  bool set(std::string_view path, const nlohmann::json& value) {
    auto full = resolved(path);
    if (full.empty()) return false;
    addressed_.insert(full);
    if (!backup::SettingsLayouts::builtin().set(file_, full, value).empty()) return false;
    top_.erase(full.substr(0, full.find('/')));
    changed_ = true;
    return true;
  }
  void commit() {
    if (!changed_) return;
    file_.seal();
    stored_ = file_;
  }

 private:
  std::optional<backup::DmpFile>& stored_;
  std::set<std::string>& addressed_;
  // A top-level field as decode() shows it (nullptr if it does not), decoded on first use: a command reads
  // a field or two, and decoding all ~1,300 values per command was most of the simulator's CPU.
  const ojson* top(const std::string& name) const {
    auto it = top_.find(name);
    if (it == top_.end()) it = top_.emplace(name, backup::SettingsLayouts::builtin().decode_field(file_, name)).first;
    return it->second ? &*it->second : nullptr;
  }

  backup::DmpFile file_;
  mutable std::map<std::string, std::optional<ojson>> top_;
  bool changed_ = false;
};

// How a plain command reads its argument and stores it.
enum class Kind {
  Range,     // payload in [lo, hi] is stored (+ add); else nothing changes
  Number,    // any payload, with an argument, is stored
  Clamp,     // with an argument: the payload limited to [lo, hi]
  Text,      // with an argument: the text; `"` clears it
  TextOnly,  // with an argument: the text as given (no clear exists)
  Tenths,    // with an argument: (int)(float * 10), kept when lo <= it <= hi
};

struct Plain {
  const char* name;   // upper case, as CommandHandler matches it
  const char* field;  // decode-config's name ("word/member"; "a|b" the first present)
  Kind kind;
  std::int64_t lo = 0, hi = 0;
  int add = 0;        // stored = payload + add
  bool indexed = false;  // Name<x>: element x - 1 of the field
};

// Source of each range: the handler in brackets.
const Plain kPlain[] = {
    {"BLINKCOUNT", "blinkcount", Kind::Range, 0, 32000},          // CmndBlinkcount
    {"BLINKTIME", "blinktime", Kind::Range, 2, 3600},             // CmndBlinktime (payload > 1)
    {"BUTTONDEBOUNCE", "button_debounce", Kind::Range, 40, 1000}, // CmndButtonDebounce
    {"SWITCHDEBOUNCE", "switch_debounce", Kind::Range, 40, 1009}, // CmndSwitchDebounce
    {"POWERONSTATE", "poweronstate", Kind::Range, 0, 5},          // CmndPowerOnState: POWER_ALL_OFF..POWER_ALL_OFF_PULSETIME_ON
    {"PULSETIME", "pulse_timer", Kind::Range, 0, 65535, 0, true},  // CmndPulsetime
    {"SWITCHMODE", "switchmode", Kind::Range, 0, 16, 0, true},     // CmndSwitchMode: < MAX_SWITCH_OPTION (17, Commands.md lists 0..16)
    {"DEVGROUPTIE", "device_group_tie", Kind::Number, 0, 0, 0, true},  // CmndDevGroupTie
    {"LEDMASK", "ledmask", Kind::Number},                          // CmndLedMask: payload as it is (uint16)
    {"LEDPWMON", "ledpwm_on", Kind::Clamp, 0, 255},                // CmndLedPwmOn
    {"LEDPWMOFF", "ledpwm_off", Kind::Clamp, 0, 255},              // CmndLedPwmOff
    {"LEDSTATE", "ledstate", Kind::Range, 0, 7},                   // CmndLedState: < MAX_LED_OPTION
    {"SLEEP", "sleep", Kind::Range, 0, 250},                       // CmndSleep
    {"SAVEDATA", "save_data", Kind::Range, 0, 3600},               // CmndSavedata
    {"SERIALLOG", "seriallog_level", Kind::Range, 0, 4},           // CmndSeriallog: LOG_LEVEL_NONE..LOG_LEVEL_DEBUG_MORE
    {"SYSLOG", "syslog_level", Kind::Range, 0, 4},                 // CmndSyslog
    {"WEBLOG", "weblog_level", Kind::Range, 0, 4},                 // CmndWeblog (xdrv_01_9_webserver.ino)
    {"MQTTLOG", "mqttlog_level", Kind::Range, 0, 4},               // CmndMqttlog
    {"ALTITUDE", "altitude", Kind::Range, -30000, 30000},          // CmndAltitude
    {"TEMPOFFSET", "temp_comp", Kind::Tenths, -126, 126},          // CmndTempOffset: -127 < value < 127
    {"HUMOFFSET", "hum_comp", Kind::Tenths, -100, 100},            // CmndHumOffset: -101 < value < 101
    {"SPEEDUNIT", "flag2/speed_conversion", Kind::Range, 0, 6},    // CmndSpeedUnit
    {"TEMPRES", "flag2/temperature_resolution", Kind::Range, 0, 3},  // CmndTemperatureResolution
    {"HUMRES", "flag2/humidity_resolution", Kind::Range, 0, 3},
    {"PRESSRES", "flag2/pressure_resolution", Kind::Range, 0, 3},
    {"WATTRES", "flag2/wattage_resolution", Kind::Range, 0, 3},
    {"VOLTRES", "flag2/voltage_resolution", Kind::Range, 0, 3},
    {"FREQRES", "flag2/frequency_resolution", Kind::Range, 0, 3},
    {"AMPRES", "flag2/current_resolution", Kind::Range, 0, 3},
    {"ENERGYRES", "flag2/energy_resolution", Kind::Range, 0, 5},   // CmndEnergyResolution
    {"WEIGHTRES", "flag2/weight_resolution", Kind::Range, 0, 3},
    {"CALCRES", "flag2/calc_resolution", Kind::Range, 0, 7},       // CmndCalcResolution (xdrv_10_rules.ino)
    {"TIME", "flag2/time_format", Kind::Range, 1, 4, -1},          // CmndTime: Time 1..4 stores the format 0..3
    {"EMULATION", "flag2/emulation", Kind::Range, 0, 2},           // Commands.md
    {"WIFI", "flag4/network_wifi", Kind::Range, 0, 1},             // CmndWifi
    {"ETHERNET", "flag4/network_ethernet", Kind::Range, 0, 1},     // Commands.md
    {"DNSTIMEOUT", "dns_timeout", Kind::Range, 100, 20000},        // CmndDnsTimeout
    {"WEBREFRESH", "web_refresh", Kind::Range, 1000, 65000},       // CmndWebRefresh: payload > 999, <= 65000
    {"WEBBUTTON", "button_text", Kind::Text, 0, 0, 0, true},       // CmndWebButton: `"` clears
    {"CORS", "cors_domain", Kind::Text},
    {"WEBCANVAS", "webcanvas|webcanvas32", Kind::Text},
    {"SWITCHTEXT", "switchtext", Kind::Text, 0, 0, 0, true},       // CmndSwitchText (spaces removed below)
    {"MEM", "mems", Kind::Text, 0, 0, 0, true},                    // CmndMemory: `"` clears
    {"DEVGROUPNAME", "device_group_topic", Kind::Text, 0, 0, 0, true},  // CmndDevGroupName: `"` or 0 clears
    {"DEVICENAME", "devicename", Kind::Text},                      // CmndDevicename
    {"FRIENDLYNAME", "friendlyname", Kind::Text, 0, 0, 0, true},   // CmndFriendlyname, 5..8 (1..4: sim_device.cpp)
    {"STATETEXT", "state_text", Kind::TextOnly, 0, 0, 0, true},    // CmndStateText (spaces become _ below)
    // MQTT (xdrv_02_9_mqtt.ino)
    {"BUTTONRETAIN", "flag/mqtt_button_retain", Kind::Range, 0, 1},
    {"SWITCHRETAIN", "flag/mqtt_switch_retain", Kind::Range, 0, 1},
    {"SENSORRETAIN", "flag/mqtt_sensor_retain", Kind::Range, 0, 1},
    {"INFORETAIN", "flag5/mqtt_info_retain", Kind::Range, 0, 1},
    {"STATERETAIN", "flag5/mqtt_state_retain", Kind::Range, 0, 1},
    {"STATUSRETAIN", "flag5/mqtt_status_retain", Kind::Range, 0, 1},
    {"MQTTKEEPALIVE", "mqtt_keepalive", Kind::Range, 1, 100},
    {"MQTTTIMEOUT", "mqtt_socket_timeout", Kind::Range, 1, 100},
    {"MQTTRETRY", "mqtt_retry", Kind::Range, 10, 32000},           // MQTT_RETRY_SECS .. 32000
    {"KNX_ENABLED", "flag/knx_enabled", Kind::Range, 0, 1},        // Commands.md
    {"KNX_ENHANCED", "flag/knx_enable_enhancement", Kind::Range, 0, 1},
    // Energy, ESP8266 xdrv_03_energy.ino (USE_ENERGY_MARGIN_DETECTION, USE_ENERGY_POWER_LIMIT)
    {"POWERCAL", "energy_power_calibration", Kind::Range, 1000, INT32_MAX},  // CmndPowerCal: payload > 999
    {"VOLTAGECAL", "energy_voltage_calibration", Kind::Range, 1000, INT32_MAX},
    {"CURRENTCAL", "energy_current_calibration", Kind::Range, 1000, INT32_MAX},
    {"POWERLOW", "energy_min_power", Kind::Range, 0, 3600},
    {"POWERHIGH", "energy_max_power", Kind::Range, 0, 3600},
    {"VOLTAGELOW", "energy_min_voltage", Kind::Range, 0, 500},
    {"VOLTAGEHIGH", "energy_max_voltage", Kind::Range, 0, 500},
    {"CURRENTLOW", "energy_min_current", Kind::Range, 0, 16000},
    {"CURRENTHIGH", "energy_max_current", Kind::Range, 0, 16000},
    {"MAXPOWER", "energy_max_power_limit", Kind::Range, 0, 3600},
    {"MAXPOWERHOLD", "energy_max_power_limit_hold", Kind::Range, 0, 3600},    // 1 restores MAX_POWER_HOLD (below)
    {"MAXPOWERWINDOW", "energy_max_power_limit_window", Kind::Range, 0, 3600},
    {"SAFEPOWER", "energy_max_power_safe_limit", Kind::Range, 0, 3600},
    {"SAFEPOWERHOLD", "energy_max_power_safe_limit_hold", Kind::Range, 0, 3600},
    {"SAFEPOWERWINDOW", "energy_max_power_safe_limit_window", Kind::Range, 0, 1439},
    {"MAXENERGY", "energy_max_energy", Kind::Range, 0, 3600},
    {"MAXENERGYSTART", "energy_max_energy_start", Kind::Range, 0, 23},
    // Light (xdrv_04_light.ino; ranges from Commands.md)
    {"FADE", "light_fade", Kind::Range, 0, 1},
    {"SPEED", "light_speed", Kind::Range, 1, 40},
    {"WAKEUPDURATION", "light_wakeup", Kind::Range, 1, 3000},
    {"WAKEUP", "light_dimmer", Kind::Range, 0, 100},
    {"LEDTABLE", "light_correction", Kind::Range, 0, 1},
    {"PIXELS", "light_pixels", Kind::Range, 1, 512},
    {"ROTATION", "light_rotation", Kind::Number},
    {"SCHEME", "light_scheme", Kind::Number},
    {"WIDTH", "light_width", Kind::Range, 0, 4},
    {"STEPPIXELS", "light_step_pixels", Kind::Number},
    {"DIMMERSTEP", "dimmer_step", Kind::Range, 1, 50},
    {"BRIMIN", "bri_min", Kind::Number},
    {"PWMDIMMERPWMS", "pwm_dimmer_cfg/pwm_count", Kind::Range, 1, 5, -1},  // stored as count - 1
    {"SHDLEADINGEDGE", "shd_leading_edge", Kind::Number},
    {"SHDWARMUPBRIGHTNESS", "shd_warmup_brightness", Kind::Number},
    {"SHDWARMUPTIME", "shd_warmup_time", Kind::Number},
    {"DALILIGHT", "sbflag1/dali_light", Kind::Range, 0, 1},
    {"DALIGROUPSLIDERS", "mbflag2/dali_group_sliders", Kind::Number},
    // Timers (xdrv_09_timers.ino)
    {"SUNRISE", "mbflag2/sunrise_dawn_angle", Kind::Range, 0, 3},  // Commands.md
    // Display (xdrv_13_display.ino; Commands.md)
    {"DISPLAYADDRESS", "display_address", Kind::Range, 0, 255, 0, true},
    {"DISPLAYCOLS", "display_cols", Kind::Number, 0, 0, 0, true},
    {"DISPLAYFONT", "display_font", Kind::Number},
    {"DISPLAYHEIGHT", "display_height", Kind::Number},
    {"DISPLAYINVERT", "display_options/invert", Kind::Range, 0, 1},
    {"DISPLAYMODE", "display_mode", Kind::Number},
    {"DISPLAYMODEL", "display_model", Kind::Number},
    {"DISPLAYREFRESH", "display_refresh", Kind::Number},
    {"DISPLAYROTATE", "display_rotate", Kind::Number},
    {"DISPLAYROWS", "display_rows", Kind::Number},
    {"DISPLAYSIZE", "display_size", Kind::Number},
    {"DISPLAYTYPE", "display_options/type", Kind::Number},
    {"DISPLAYWIDTH", "display_width", Kind::Number},
    // Domoticz (xdrv_07_domoticz.ino): Domoticz… before 8.4.0, Dz… from then (CHANGELOG 8.4.0)
    {"DZIDX", "domoticz_relay_idx", Kind::Number, 0, 0, 0, true},
    {"DZKEYIDX", "domoticz_key_idx", Kind::Number, 0, 0, 0, true},
    {"DZSENSORIDX", "domoticz_sensor_idx", Kind::Number, 0, 0, 0, true},
    {"DZSWITCHIDX", "domoticz_switch_idx", Kind::Number, 0, 0, 0, true},
    {"DZUPDATETIMER", "domoticz_update_timer", Kind::Number},
    // Other drivers: as given (their code was not read; Commands.md ranges where it gives one)
    {"HDMIADDR", "hdmi_addr", Kind::Number},
    {"HDMITYPE", "hdmi_cec_device_type", Kind::Number},
    {"IFX", "sbflag1/influxdb_state", Kind::Range, 0, 1},
    {"IFXSENSOR", "sbflag1/influxdb_sensor", Kind::Range, 0, 1},
    {"IFXPORT", "influxdb_port", Kind::Number},
    {"IFXPERIOD", "influxdb_period", Kind::Number},
    {"IFXHOST", "influxdb_host|influxdb_host32", Kind::Text},
    {"IFXBUCKET", "influxdb_bucket|influxdb_bucket32", Kind::Text},
    {"IFXRP", "influxdb_rp|influxdb_rp32", Kind::Text},
    {"IFXORG", "influxdb_org|influxdb_org32", Kind::Text},
    {"IFXUSER", "influxdb_org|influxdb_org32", Kind::Text},
    {"IFXTOKEN", "influxdb_token|influxdb_token32", Kind::Text},
    {"IFXPASSWORD", "influxdb_token|influxdb_token32", Kind::Text},
    {"L1MUSICSYNC", "sbflag1/sonoff_l1_music_sync", Kind::Range, 0, 1},
    {"JSONPP", "mbflag2/json_pretty_print", Kind::Number},
    {"UFSFTP", "mbflag2/FTP_Mode", Kind::Range, 0, 2},
    {"TUYATEMPSETRES", "mbflag2/temperature_set_res", Kind::Range, 0, 3},
    {"RTCNTPSERVER", "sbflag1/local_ntp_server", Kind::Range, 0, 1},
    {"SSPMDISPLAY", "sbflag1/sspm_display", Kind::Range, 0, 1},
    {"RGXSTATE", "sbflag1/range_extender", Kind::Range, 0, 1},
    {"RGXNAPT", "sbflag1/range_extender_napt", Kind::Range, 0, 1},
    {"RGXSSID", "rgx_ssid", Kind::Text},
    {"RGXPASSWORD", "rgx_pwassword", Kind::Text},
    {"TMTOKEN", "telegram_token", Kind::Text},
    {"TMCHATID", "telegram_chatid", Kind::Text},
    {"TMFINGERPRINT", "telegram_fingerprint", Kind::Text},
    {"BATTERYPERCENTAGE", "battery_level_percent", Kind::Range, 0, 101},
    {"RFPROTOCOL", "rf_protocol_mask", Kind::Number},
    {"RFTIMEOUT", "rf_duplicate_time", Kind::Number},
    {"HOTPLUG", "hotplug_scan", Kind::Number},
    {"SHIFT595DEVICECOUNT", "shift595_device_count", Kind::Number},
    {"WIPER", "ds3502_state", Kind::Number, 0, 0, 0, true},
    {"COUNTERTYPE", "pulse_counter_type/pulse_counter_type#", Kind::Range, 0, 1, 0, true},
    {"COUNTERDEBOUNCE", "pulse_counter_debounce", Kind::Range, 0, 32000},
    {"COUNTERDEBOUNCELOW", "pulse_counter_debounce_low", Kind::Range, 0, 32000},
    {"COUNTERDEBOUNCEHIGH", "pulse_counter_debounce_high", Kind::Range, 0, 32000},
    {"BH1750RESOLUTION", "SensorBits1/bh1750_#_resolution", Kind::Range, 0, 2, 0, true},
    {"AS3935AUTONF", "as3935_functions/nf_autotune", Kind::Range, 0, 1},
    {"AS3935AUTODISTURBER", "as3935_functions/dist_autotune", Kind::Range, 0, 1},
    {"AS3935AUTONFMAX", "as3935_functions/nf_autotune_both", Kind::Range, 0, 1},
    {"AS3935MQTTEVENT", "as3935_functions/mqtt_only_Light_Event", Kind::Range, 0, 1},
    {"AS3935NOIRQEVENT", "flag4/suppress_irq_no_Event", Kind::Range, 0, 1},
    {"AS3935NFTIME", "as3935_parameter/nf_autotune_time", Kind::Number},
    {"AS3935DISTTIME", "as3935_parameter/dist_autotune_time", Kind::Number},
    {"AS3935SETMINSTAGE", "as3935_parameter/nf_autotune_min", Kind::Number},
    {"SSERIALMODE", "sserial_mode", Kind::Number},
    {"SSERIALSEND", "sbflag1/serbridge_console", Kind::Range, 0, 1},  // SSerialSend9 0/1 only
    {"ETHTYPE", "eth_type", Kind::Number},
    {"ETHCLOCKMODE", "eth_clk_mode", Kind::Number},
    {"ETHADDRESS", "eth_address", Kind::Range, 0, 31},
    {"DEEPSLEEPTIME", "deepsleep", Kind::Number},
    {"SHUTTERMODE", "shutter_mode", Kind::Number},
    {"SHUTTERMOTORSTOP", "shutter_motorstop", Kind::Number},
    {"WCCLOCK", "webcam_clk", Kind::Number},
};

// Webcam settings (xdrv_81_esp32_webcam): bit fields, stored as given; contrast, brightness and
// saturation take -2..2 and store + 2.
struct Webcam {
  const char* name;
  const char* member;
  int add;
};
const Webcam kWebcam[] = {
    {"WCSTREAM", "webcam_config/stream", 0},      {"WCMIRROR", "webcam_config/mirror", 0},       {"WCFLIP", "webcam_config/flip", 0},
    {"WCRTSP", "webcam_config/rtsp", 0},          {"WCCONTRAST", "webcam_config/contrast", 2},   {"WCBRIGHTNESS", "webcam_config/brightness", 2},
    {"WCSATURATION", "webcam_config/saturation", 2}, {"WCRESOLUTION", "webcam_config/resolution", 0}, {"WCAWB", "webcam_config/awb", 0},
    {"WCAWBGAIN", "webcam_config/awb_gain", 0},   {"WCAEC", "webcam_config/aec", 0},             {"WCAECDSP", "webcam_config/aec2", 0},
    {"WCGAMMACORRECT", "webcam_config/raw_gma", 0}, {"WCLENSCORRECT", "webcam_config/lenc", 0},  {"WCCOLORBAR", "webcam_config/colorbar", 0},
    {"WCWPC", "webcam_config/wpc", 0},            {"WCDCW", "webcam_config/dcw", 0},             {"WCBPC", "webcam_config/bpc", 0},
    {"WCFEATURE", "webcam_config/feature", 0},    {"WCWBMODE", "webcam_config2/wb_mode", 0},     {"WCAELEVEL", "webcam_config2/ae_level", 0},
    {"WCAECVALUE", "webcam_config2/aec_value", 0}, {"WCGAINCEILING", "webcam_config2/gainceiling", 0}, {"WCAGCGAIN", "webcam_config2/agc_gain", 0},
    {"WCSPECIALEFFECT", "webcam_config2/special_effect", 0}, {"WCSAUTH", "webcam_config2/auth", 0},
};

// SerialConfig and friends: "8N1" (ParseSerialConfig) or 0..23 (support_command.ino CmndSerialConfig).
int serial_config_of(std::string_view s) {
  if (s.size() < 3) {
    auto a = parse_arg(s);
    return (a.payload >= 0 && a.payload <= 23) ? static_cast<int>(a.payload) : -1;
  }
  if (s.size() != 3 || s[0] < '5' || s[0] > '8') return -1;
  int bits = s[0] - '5';
  int parity = s[1] == 'N' || s[1] == 'n' ? 0 : s[1] == 'E' || s[1] == 'e' ? 1 : s[1] == 'O' || s[1] == 'o' ? 2 : -1;
  int stop = s[2] == '1' ? 0 : s[2] == '2' ? 1 : -1;
  if (parity < 0 || stop < 0) return -1;
  return bits + stop * 4 + parity * 8;  // TS_SERIAL_5N1 … TS_SERIAL_8O2: 5N1 6N1 7N1 8N1 5N2 … 5E1 …
}

bool parse_ipv4(std::string_view s, std::string& out) {
  int parts[4];
  if (std::sscanf(std::string(s).c_str(), "%d.%d.%d.%d", &parts[0], &parts[1], &parts[2], &parts[3]) != 4) return false;
  for (int p : parts)
    if (p < 0 || p > 255) return false;
  out = fmt::format("{}.{}.{}.{}", parts[0], parts[1], parts[2], parts[3]);
  return true;
}

// Tasmota answers with the command's own spelling ({"PulseTime1":…}); CommandHandler matched it in
// upper case.
const char* const kSpelling[] = {
    "AP", "AS3935AutoDisturber", "AS3935AutoNF", "AS3935AutoNFMax", "AS3935DistTime", "AS3935MQTTEvent",
    "AS3935NFTime", "AS3935NoIrqEvent", "AS3935SetMinStage", "Adc", "AdcParam", "Altitude", "AmpRes",
    "BatteryPercentage", "Baudrate", "Bh1750Resolution", "BlinkCount", "BlinkTime", "BriMin", "BriPreset",
    "ButtonDebounce", "ButtonRetain", "ButtonTopic", "CORS", "CalcRes", "Counter", "CounterDebounce",
    "CounterDebounceHigh", "CounterDebounceLow", "CounterType", "CurrentCal", "CurrentHigh", "CurrentLow",
    "CurrentSet", "DaliGroupSliders", "DaliLight", "DeepSleepTime", "DevGroupName", "DevGroupShare", "DevGroupTie",
    "DeviceName", "DimmerRange", "DimmerStep", "DisplayAddress", "DisplayCols", "DisplayDimmer", "DisplayFont",
    "DisplayHeight", "DisplayInvert", "DisplayMode", "DisplayModel", "DisplayRefresh", "DisplayRotate",
    "DisplayRows", "DisplaySize", "DisplayType", "DisplayWidth", "DnsTimeout", "DomoticzIdx", "DomoticzKeyIdx",
    "DomoticzSensorIdx", "DomoticzSwitchIdx", "DomoticzUpdateTimer", "DzIdx", "DzKeyIdx", "DzSensorIdx",
    "DzSwitchIdx", "DzUpdateTimer", "Emulation", "EnergyExportActive", "EnergyRes", "EnergyReset", "EnergyToday",
    "EnergyTotal", "EnergyYesterday", "EthAddress", "EthClockMode", "EthDNSServer", "EthGateway", "EthIPAddress",
    "EthSubnetmask", "EthType", "Ethernet", "Fade", "FreqRes", "FrequencyCal", "FrequencySet", "FriendlyName",
    "FullTopic", "GPIO", "GroupTopic", "HdmiAddr", "HdmiType", "Hostname", "HotPlug", "HumOffset", "HumRes",
    "I2CDriver", "IPAddress", "Ifx", "IfxBucket", "IfxHost", "IfxPassword", "IfxPeriod", "IfxPort", "IfxRP",
    "IfxSensor", "IfxUser", "InfoRetain", "Interlock", "JsonPP", "KNX_ENABLED", "KNX_ENHANCED", "KeeloqSet",
    "L1MusicSync", "Latitude", "LedMask", "LedPwmMode", "LedPwmOff", "LedPwmOn", "LedState", "LedTable", "LogHost",
    "LogPort", "Longitude", "MaxEnergy", "MaxEnergyStart", "MaxPower", "MaxPowerHold", "MaxPowerWindow", "Mem",
    "ModbusBaudrate", "ModbusSerialConfig", "Module", "MqttClient", "MqttFingerprint", "MqttHost", "MqttKeepAlive",
    "MqttLog", "MqttPassword", "MqttPort", "MqttRetry", "MqttTimeout", "MqttUser", "MqttWifiTimeout", "NtpServer",
    "OT_Flags", "OT_Save_Setpoints", "OT_TBoiler", "OT_TWater", "OtaUrl", "PWMDimmerPWMs", "Password", "PixelType",
    "Pixels", "Power", "PowerCal", "PowerDelta", "PowerHigh", "PowerLock", "PowerLow", "PowerOnState", "PowerRetain",
    "PowerSet", "Prefix", "PressRes", "PulseTime", "Pwm", "PwmFrequency", "PwmRange", "RGBWWTable", "RfProtocol",
    "RfTimeOut", "RgxAddress", "RgxNAPT", "RgxPassword", "RgxSSId", "RgxState", "RgxSubnet", "Rotation",
    "RtcNtpserver", "Rule", "SBaudrate", "SSId", "SSPMDisplay", "SSerialConfig", "SSerialMode", "SSerialSend",
    "SafePower", "SafePowerHold", "SafePowerWindow", "SaveData", "Scheme", "Sensor", "SensorRetain", "SerialConfig",
    "SerialDelimiter", "SerialLog", "SetOption", "SetSensor", "ShdLeadingEdge", "ShdWarmupBrightness",
    "ShdWarmupTime", "Shift595DeviceCount", "ShutterButton", "ShutterCalibration", "ShutterCloseDuration",
    "ShutterEnableEndStopTime", "ShutterInvert", "ShutterInvertWebButtons", "ShutterLock", "ShutterMode",
    "ShutterMotorDelay", "ShutterMotorStop", "ShutterOpenDuration", "ShutterPWMRange", "ShutterPosition",
    "ShutterRelay", "ShutterSetHalfway", "ShutterTiltConfig", "Sleep", "Speed", "SpeedUnit", "StateRetain",
    "StateText", "StatusRetain", "StepPixels", "Sunrise", "SwitchDebounce", "SwitchMode", "SwitchRetain",
    "SwitchText", "SwitchTopic", "SysLog", "TCPBaudrate", "TCPConfig", "Tariff", "TelePeriod", "TempOffset",
    "TempRes", "Template", "Time", "TimeDST", "TimeSTD", "Timer", "Timers", "Timezone", "TmChatId", "TmFingerprint",
    "TmState", "TmToken", "Topic", "TouchThres", "TuyaMCU", "TuyaTempSetRes", "UfsFTP", "VoltRes", "VoltageCal",
    "VoltageHigh", "VoltageLow", "VoltageSet", "WCAEC", "WCAECDSP", "WCAECValue", "WCAELevel", "WCAGCGain", "WCAWB",
    "WCAWBGain", "WCBPC", "WCBrightness", "WCColorbar", "WCContrast", "WCDCW", "WCFeature", "WCFlip",
    "WCGainCeiling", "WCGammaCorrect", "WCLensCorrect", "WCMirror", "WCResolution", "WCRtsp", "WCSAuth",
    "WCSaturation", "WCSpecialEffect", "WCStream", "WCWBMode", "WCWPC", "WakeUpDuration", "Wakeup", "WattRes",
    "WcClock", "WebButton", "WebCanvas", "WebColor", "WebLog", "WebPassword", "WebRefresh", "WebSensor", "WebServer",
    "WebTime", "WeightRes", "Width", "Wifi", "WifiConfig", "WifiPower", "Wiper", "ZCDimmerSet", "ZbConfig",

};
std::string spelled(const std::string& upper_name) {
  for (const char* n : kSpelling)
    if (upper(n) == upper_name) return n;
  return upper_name;
}

std::vector<std::string> split(std::string_view s, std::string_view seps) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (seps.find(c) != std::string_view::npos) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

void SimDevice::address(std::string_view path) { Store(spec_, version_, stored_, addressed_).address(path); }

bool SimDevice::stored_command(const std::string& cmd, int index, bool has_index, std::string_view data, Reaction& out) {
  Store s(spec_, version_, stored_, addressed_);
  auto a = parse_arg(data);
  int idx = has_index ? index : 1;  // CommandHandler: index 1 when the command has no digits
  auto name = has_index ? fmt::format("{}{}", spelled(cmd), index) : spelled(cmd);
  auto done = [&](const ojson& shown) {
    s.commit();
    reply(out, cmd, ojson{{name, shown}}.dump());
    return true;
  };
  auto number = [&](std::int64_t v) { return ojson(v); };
  bool esp32 = planner::is_esp32_family(planner::parse_chip(spec_.chip));
  int relays = std::max(1, spec_.relays);

  auto& st = spec_.settings;
  // CmndModule: 0 is the user template (255), 1..MAXMODULE the module index + 1 (modelled as ModuleNr).
  // A new module clears the GPIOs and remembers the last one; Module2 (below) is the fallback module.
  if (cmd == "MODULE" && !(has_index && index == 2)) {
    s.address("module");
    if (a.payload >= 0 && a.payload <= 255) {
      if (a.payload != st.module_id) {
        auto stored_index = [](int nr) { return (nr - 1) & 0xFF; };
        s.set("last_module", stored_index(st.module_id));
        for (std::size_t i = 0; i < s.size("my_gp"); ++i) s.set(fmt::format("my_gp/{}", i), 0);
        st.module_id = static_cast<int>(a.payload);
        s.set("module", stored_index(st.module_id));
      }
      out.restart = true;
    }
    s.commit();
    reply(out, cmd, ojson{{"Module", {{std::to_string(st.module_id), st.module_id == 0 ? std::string("Template") : spec_.module_name}}}}.dump());
    return true;
  }
  // CmndRule<x>: 0/1 enable, 2 toggles; 4/5 once, 6 toggles; 8/9 stop on error, 10 toggles (the payload,
  // so "on"/"off"/"toggle" too); any other text is the rule, `"` clears it, a leading '+' appends.
  if (cmd == "RULE" && idx >= 1 && idx <= 3) {
    auto& rule = st.rules[static_cast<std::size_t>(idx - 1)];
    s.address(fmt::format("rules/{}", idx - 1));
    if (!a.empty()) {
      if (a.payload >= 0 && a.payload <= 10) {
        static const char* groups[] = {"rule_enabled", "rule_once", "rule_stop"};
        if (a.payload % 4 != 3) {
          auto path = fmt::format("{}/rule{}", groups[a.payload / 4], idx);
          auto v = s.number(path);
          s.set(path, a.payload % 4 == 2 ? (v ^ 1) : (a.payload & 1));
        }
      } else if (data[0] == '+') {
        rule += " " + std::string(data.substr(1));
      } else {
        rule = data == "\"" ? std::string() : std::string(data);
      }
    }
    auto state = [&](const char* g) { return s.number(fmt::format("{}/rule{}", g, idx)) ? "ON" : "OFF"; };
    s.commit();
    reply(out, cmd, ojson{{name, {{"State", state("rule_enabled")}, {"Once", state("rule_once")}, {"StopOnError", state("rule_stop")},
                                  {"Length", rule.size()}, {"Free", 511 - static_cast<int>(rule.size())}, {"Rules", rule}}}}
                         .dump());
    return true;
  }

  // CmndButtonTopic / CmndSwitchTopic: `"` clears, 1 = the device's Topic, 2 = MQTT_BUTTON_TOPIC /
  // MQTT_SWITCH_TOPIC ("0"), else the text (MakeValidMqtt 0); not from the group topic.
  if ((cmd == "BUTTONTOPIC" && s.has("button_topic")) || (cmd == "SWITCHTOPIC" && s.has("switch_topic"))) {
    const char* f = cmd == "BUTTONTOPIC" ? "button_topic" : "switch_topic";
    if (!a.empty() && !via_group_) {
      // The MQTT client id as the text means the default (TasmotaGlobal.mqtt_client: SetShortcutDefault).
      std::string given = valid_mqtt(std::string(data), false);
      std::string v = data == "\"" || data == "0" ? std::string() : data == "1" || given == client_id() ? st.topic : data == "2" ? std::string("0") : given;
      s.set(f, v);
    }
    return done(std::string(data));
  }
  // CmndGroupTopic<1..4> (from 8.3.0; one GroupTopic before): `"` clears, 1 = MQTT_GRPTOPIC, the text
  // (MakeValidMqtt 0) unless it is the MQTT client id (then the default). Then duplicates go, the rest move up,
  // and the first is the default when none is left.
  if (cmd == "GROUPTOPIC" && idx >= 1 && idx <= 1 + static_cast<int>(s.size("mqtt_grptopic2"))) {
    s.address(idx == 1 ? std::string("mqtt_grptopic") : fmt::format("mqtt_grptopic2/{}", idx - 2));
    if (!a.empty()) {
      std::vector<std::string> topics{st.group_topic};
      for (std::size_t i = 0; i < s.size("mqtt_grptopic2"); ++i) {
        auto* v = s.get(fmt::format("mqtt_grptopic2/{}", i));
        topics.push_back(v && v->is_string() ? v->get<std::string>() : std::string());
      }
      std::string v = valid_mqtt(std::string(data), false);
      if (v == client_id()) v = "1";
      v = (data == "\"" || data == "0") ? std::string() : v == "1" ? std::string(kDefaultGroupMarker) : v;
      topics[static_cast<std::size_t>(idx - 1)] = v;
      if (topics.size() > 1) {
        std::vector<std::string> kept;
        for (auto& t : topics)
          if (!t.empty() && std::find(kept.begin(), kept.end(), t) == kept.end()) kept.push_back(t);
        if (kept.empty()) kept.push_back(kDefaultGroupMarker);
        kept.resize(topics.size());
        topics = kept;
      }
      st.group_topic = topics[0] == kDefaultGroupMarker ? std::string() : topics[0];
      for (std::size_t i = 1; i < topics.size(); ++i) s.set(fmt::format("mqtt_grptopic2/{}", i - 1), topics[i] == kDefaultGroupMarker ? std::string() : topics[i]);
      out.restart = true;
    }
    return done(std::string(data));
  }

  // Domoticz commands had the prefix "Domoticz" before 8.4.0.
  std::string c = cmd == "FN" ? std::string("FRIENDLYNAME") : cmd;
  if (c.rfind("DOMOTICZ", 0) == 0) c = "DZ" + c.substr(8);

  for (const auto& p : kPlain) {
    if (c != p.name) continue;
    if (c == "SSERIALSEND" && !(has_index && index == 9)) return false;  // SSerialSend1..6 send data
    std::string path = p.field;
    if (auto hash = path.find('#'); hash != std::string::npos) {
      path.replace(hash, 1, std::to_string(idx));
    } else if (p.indexed) {
      if (idx < 1 || static_cast<std::size_t>(idx) > s.size(path)) return false;
      path += fmt::format("/{}", idx - 1);
    }
    if (!s.has(path)) return false;  // this layout has no such setting: the command is unknown here
    s.address(path);
    switch (p.kind) {
      case Kind::Range:
        if (a.payload >= p.lo && a.payload <= p.hi) s.set(path, a.payload + p.add);
        break;
      case Kind::Number: {
        // As given, in full (these drivers' handlers were not read: no 32-bit payload assumed).
        std::string t(data);
        char* end = nullptr;
        auto v = std::strtoll(t.c_str(), &end, 0);
        if (t.rfind("0x", 0) == 0 || t.rfind("0X", 0) == 0) v = static_cast<long long>(std::strtoull(t.c_str(), &end, 16));
        if (!a.empty() && end != t.c_str()) s.set(path, static_cast<std::int64_t>(v));
        break;
      }
      case Kind::Clamp:
        if (!a.empty()) s.set(path, std::clamp(a.payload, p.lo, p.hi));
        break;
      case Kind::Text:
      case Kind::TextOnly: {
        if (a.empty()) break;
        std::string v(data);
        if (p.kind == Kind::Text && (v == "\"" || (c == "DEVGROUPNAME" && v == "0"))) v.clear();
        if (c == "SWITCHTEXT") std::erase(v, ' ');                                  // RemoveSpace
        if (c == "STATETEXT") std::replace(v.begin(), v.end(), ' ', '_');          // spaces to underscores
        if (c == "DEVICENAME" && v == "1") v = spec_.settings.friendly_names[0];   // SC_DEFAULT: FriendlyName1
        if (c == "FRIENDLYNAME" && v == "1") v = fmt::format("Tasmota{}", idx);     // FRIENDLY_NAME and the index
        if (c == "TMFINGERPRINT" && v == "1") v.clear();
        s.set(path, v);
        break;
      }
      case Kind::Tenths:
        if (!a.empty()) {
          int v = static_cast<int>(to_float(data) * 10.0f);
          if (v >= p.lo && v <= p.hi) s.set(path, v);
        }
        break;
    }
    // MaxPowerHold 1 etc. restore the firmware's default (MAX_POWER_HOLD 10, MAX_POWER_WINDOW 30,
    // SAFE_POWER_HOLD 10, SAFE_POWER_WINDOW 30: my_user_config.h).
    if (a.payload == 1 && (c == "MAXPOWERHOLD" || c == "SAFEPOWERHOLD")) s.set(path, 10);
    if (a.payload == 1 && (c == "MAXPOWERWINDOW" || c == "SAFEPOWERWINDOW")) s.set(path, 30);
    return done(std::string(data));
  }

  // ZCDimmerSet<x> <percent>: kept in hundredths (decode-config's /100), rounded.
  if (c == "ZCDIMMERSET" && idx >= 1 && idx <= static_cast<int>(s.size("zcdimmerset"))) {
    auto path = fmt::format("zcdimmerset/{}", idx - 1);
    s.address(path);
    if (!a.empty()) s.set(path, static_cast<long long>(std::llround(std::strtod(std::string(data).c_str(), nullptr) * 100)));
    return done(std::string(data));
  }
  // DisplayDimmer 0..100 (Commands.md); from 10.x kept negated in display_dimmer_protected (decode-config
  // shows its magnitude).
  if (c == "DISPLAYDIMMER") {
    auto k = s.key("display_dimmer_protected|display_dimmer");
    if (k.empty()) return false;
    s.address(k);
    if (a.payload >= 0 && a.payload <= 100) s.set(k, k == "display_dimmer" ? a.payload : -a.payload);
    return done(number(a.payload));
  }

  for (const auto& w : kWebcam) {
    if (c != w.name) continue;
    if (!s.has(w.member)) return false;
    s.address(w.member);
    if (a.payload != -99) s.set(w.member, a.payload + w.add);
    return done(number(a.payload));
  }

  // SetOption<n> (support_command.ino CmndSetoptionBase): 0-31 flag, 32-49 param, 50-81 flag3, 82-113
  // flag4, 114-145 flag5, 146-177 flag6; bits take 0/1 (refused: 5/6/7/9/14/22/23/25/27), params 0..255
  // (SetOption32 hold time, 33 max power retry, 45 bistable pulse: 1..250).
  if ((c == "SETOPTION" || c == "SO") && has_index) {
    int n = index;
    if (n >= 32 && n <= 49) {
      auto path = fmt::format("param/{}", n - 32);
      if (!s.has(path)) return false;
      std::int64_t lo = (n == 32 || n == 33 || n == 45) ? 1 : 0, hi = lo ? 250 : 255;
      if (a.payload >= lo && a.payload <= hi) s.set(path, a.payload);
      return done(number(s.number(path)));
    }
    if (backup::setoption_refused(n)) {
      reply(out, cmd, R"({"Command":"Error"})");
      return true;
    }
    for (const auto& b : backup::setoption_bits()) {
      if (b.number != n) continue;
      auto path = fmt::format("{}/{}", b.group, b.name);
      if (!s.has(path)) continue;
      if (a.payload >= 0 && a.payload <= 1) {
        if (n == 50) spec_.settings.timers_enabled = a.payload != 0;  // modelled in DeviceSettings
        s.set(path, a.payload);
      }
      return done(a.payload ? "ON" : "OFF");
    }
    return false;
  }

  // CmndGlobalTemp2 / GlobalHum2 / GlobalPress2: the sensor the global value comes from, 0..250
  // (support_command.ino).
  if ((c == "GLOBALTEMP" || c == "GLOBALHUM" || c == "GLOBALPRESS") && has_index && index == 2 && s.has("global_sensor_index")) {
    auto path = fmt::format("global_sensor_index/{}", c == "GLOBALTEMP" ? 0 : c == "GLOBALHUM" ? 1 : 2);
    s.address(path);
    if (a.payload >= 0 && a.payload < 251) s.set(path, a.payload);
    return done(number(a.payload));
  }
  // CmndPowerRetain: 0/1; 1 also clears SetOption90 (only_json_message).
  if (c == "POWERRETAIN") {
    if (a.payload >= 0 && a.payload <= 1) {
      s.set("flag/mqtt_power_retain", a.payload);
      if (a.payload == 1) s.set("flag4/only_json_message", 0);
    }
    return done(number(a.payload));
  }
  // CmndTimezone: -13..14 keeps the minutes after ':' (at most 59); 15 and more select 99 (the DST rules).
  if (c == "TIMEZONE") {
    s.address("timezone");
    s.address("timezone_minutes");
    if (!a.empty() && a.payload >= -13) {
      std::int64_t minutes = 0;
      std::int64_t tz = a.payload;
      if (a.payload < 15) {
        if (auto colon = data.find(':'); colon != std::string_view::npos)
          minutes = std::min<std::int64_t>(59, std::strtol(std::string(data.substr(colon + 1)).c_str(), nullptr, 10));
      } else {
        tz = 99;
      }
      s.set("timezone", tz);
      s.set("timezone_minutes", minutes);
    }
    return done(number(s.number("timezone")));
  }
  // CmndTimeStdDst: "hemisphere,week,month,day,hour,offset", each clamped; empty fields keep theirs.
  if (c == "TIMESTD" || c == "TIMEDST") {
    int ts = c == "TIMESTD" ? 0 : 1;
    s.address(fmt::format("tflag/{}", ts));
    s.address(fmt::format("toffset/{}", ts));
    if (data.find(',') != std::string_view::npos) {
      std::vector<std::string> parts;
      std::string cur;
      for (char ch : data) {
        if (ch == ',') {
          parts.push_back(cur);
          cur.clear();
        } else {
          cur += ch;
        }
      }
      parts.push_back(cur);
      static const char* names[] = {"hemis", "week", "month", "dow", "hour"};
      static const int lo[] = {0, 0, 1, 1, 0}, hi[] = {1, 4, 12, 7, 23};
      for (std::size_t i = 0; i < parts.size() && i < 6; ++i) {
        auto t = std::string(parts[i]);
        if (t.find_first_not_of(" ") == std::string::npos) continue;
        long v = std::strtol(t.c_str(), nullptr, 10);
        if (i == 0) s.set(fmt::format("tflag/{}/hemis", ts), v & 1);
        else if (i < 5) s.set(fmt::format("tflag/{}/{}", ts, names[i]), std::clamp<long>(v, lo[i], hi[i]));
        else s.set(fmt::format("toffset/{}", ts), std::clamp<long>(v, -900, 900));
      }
    }
    return done(number(s.number(fmt::format("toffset/{}", ts))));
  }
  // CmndInterlock: "0"/"1" switch it; "1,2 3,4" replaces the groups: relays 1..max_relays, each in one
  // group only, groups of fewer than two relays dropped. Only with more than one relay.
  if (c == "INTERLOCK") {
    auto groups_key = s.key("interlock_esp32|interlock");
    std::size_t ngroups = s.size(groups_key);
    int max_relays = std::min(relays, 32);
    s.address(data.find(',') != std::string_view::npos ? groups_key : std::string("flag/interlock"));
    if (max_relays > 1 && !a.empty()) {
      if (data.find(',') != std::string_view::npos) {
        std::vector<std::uint32_t> g(ngroups, 0);
        std::uint32_t used = 0;
        std::size_t gi = 0;
        for (auto& group : split(data, " ")) {
          if (gi >= ngroups) break;
          for (auto& r : split(group, ",")) {
            int bit = std::atoi(r.c_str());
            if (bit > 0 && bit <= max_relays && !((used >> (bit - 1)) & 1)) {
              used |= 1u << (bit - 1);
              g[gi] |= 1u << (bit - 1);
            }
          }
          ++gi;
        }
        for (auto& x : g)
          if (std::popcount(x) < 2) x = 0;
        for (std::size_t i = 0; i < ngroups; ++i) s.set(fmt::format("{}/{}", groups_key, i), fmt::format("0x{:08x}", g[i]));
      } else {
        s.set("flag/interlock", a.payload & 1);
      }
    }
    return done(number(s.number("flag/interlock")));
  }
  // CmndLedPwmMode<x>: 0 digital, 1 PWM, 2 toggle, bit x-1 of ledpwm_mask.
  if (c == "LEDPWMMODE" && idx >= 1 && idx <= 4 && s.has("ledpwm_mask")) {
    s.address("ledpwm_mask");
    auto mask = s.number("ledpwm_mask");
    std::int64_t bit = 1 << (idx - 1);
    if (a.payload == 0) mask &= ~bit;
    if (a.payload == 1) mask |= bit;
    if (a.payload == 2) mask ^= bit;
    s.set("ledpwm_mask", mask);
    return done(number((mask >> (idx - 1)) & 1));
  }
  // CmndI2cDriver<x> (x < 96) and WebSensor<x>/SetSensor<x>: bit x of the words, payload & 1.
  if ((c == "I2CDRIVER" && s.has("i2c_drivers")) || ((c == "WEBSENSOR" || c == "SETSENSOR") && s.has("sensors"))) {
    std::string f = c == "I2CDRIVER" ? "i2c_drivers" : "sensors";
    bool nested = f == "sensors" && s.get("sensors/0") && s.get("sensors/0")->is_array();  // sensors[0][n] from 10.x
    std::string words = nested ? "sensors/0" : f;
    int w = index / 32;
    auto path = fmt::format("{}/{}", words, w);
    if (!has_index || !s.has(path)) return false;
    s.address(path);
    if (a.payload >= 0) {
      auto mask = static_cast<std::uint32_t>(s.number(path));
      mask = (mask & ~(1u << (index % 32))) | (static_cast<std::uint32_t>(a.payload & 1) << (index % 32));
      s.set(path, fmt::format("0x{:08x}", mask));
    }
    return done(number((s.number(path) >> (index % 32)) & 1));
  }
  // PowerLock<x> 0/1 locks relay x; PowerLock0 all of them (Commands.md).
  if (c == "POWERLOCK" && s.has("power_lock")) {
    s.address("power_lock");
    auto mask = static_cast<std::uint32_t>(s.number("power_lock"));
    if (a.payload == 0 || a.payload == 1) {
      if (has_index && index == 0) mask = a.payload ? 0xFFFFFFFFu : 0;
      else if (idx >= 1 && idx <= 32) mask = (mask & ~(1u << (idx - 1))) | (static_cast<std::uint32_t>(a.payload) << (idx - 1));
      s.set("power_lock", mask);
    }
    return done(number(mask));
  }
  // CmndDevGroupShare <in>,<out> (ParseParameters: missing values keep theirs).
  if (c == "DEVGROUPSHARE" && s.has("device_group_share_in")) {
    s.address("device_group_share_in");
    s.address("device_group_share_out");
    auto parts = split(data, ", ");
    if (!parts.empty()) s.set("device_group_share_in", static_cast<std::uint32_t>(std::strtoul(parts[0].c_str(), nullptr, 0)));
    if (parts.size() > 1) s.set("device_group_share_out", static_cast<std::uint32_t>(std::strtoul(parts[1].c_str(), nullptr, 0)));
    return done(number(s.number("device_group_share_in")));
  }
  // CmndMqttFingerprint<1|2> (TLS builds): 20 hex bytes (strtol base 16 each); 1 = the default.
  if (c == "MQTTFINGERPRINT" && idx >= 1 && idx <= 2) {
    auto f = fmt::format("mqtt_fingerprint{}", idx);
    if (!s.has(f)) return false;
    s.address(f);
    if (!a.empty() && data.size() < 60 && data != "1") {
      std::string txt = data == "\"" || data == "0" ? std::string() : std::string(data);
      const char* p = txt.c_str();
      for (int i = 0; i < 20; ++i) {
        char* end = nullptr;
        long b = std::strtol(p, &end, 16);
        p = end;
        s.set(fmt::format("{}/{}", f, i), fmt::format("0x{:02x}", b & 0xFF));
      }
    }
    return done(number(0));
  }
  // CmndWebColor<x> #RRGGBB (x 1..18 web_color, 19.. web_color2).
  if (c == "WEBCOLOR" && has_index) {
    std::string path = idx <= static_cast<int>(s.size("web_color")) ? fmt::format("web_color/{}", idx - 1) : fmt::format("web_color2/{}", idx - 19);
    if (!s.has(path)) return false;
    s.address(path);
    if (data.size() == 7 && data[0] == '#') s.set(path, fmt::format("0x{}", lower(std::string(data.substr(1)))));
    return done(data);
  }
  // CmndWebTime <start>,<end> (xdrv_01_9_webserver.ino).
  if (c == "WEBTIME" && s.has("web_time_start")) {
    s.address("web_time_start");
    s.address("web_time_end");
    auto parts = split(data, ",");
    if (parts.size() == 2) {
      s.set("web_time_start", std::atoi(parts[0].c_str()));
      s.set("web_time_end", std::atoi(parts[1].c_str()));
    }
    return done(data);
  }
  // Two values in one command: DimmerRange <min>,<max>; BriPreset <low>,<high>; RGBWWTable 5 values.
  if ((c == "DIMMERRANGE" && s.has("dimmer_hw_min")) || (c == "BRIPRESET" && s.has("bri_preset_low"))) {
    auto parts = split(data, ", ");
    const char* lo = c == "DIMMERRANGE" ? "dimmer_hw_min" : "bri_preset_low";
    const char* hi = c == "DIMMERRANGE" ? "dimmer_hw_max" : "bri_preset_high";
    s.address(lo);
    s.address(hi);
    if (parts.size() == 2) {
      s.set(lo, std::atoi(parts[0].c_str()));
      s.set(hi, std::atoi(parts[1].c_str()));
    }
    return done(data);
  }
  if (c == "RGBWWTABLE" && s.has("rgbwwTable")) {
    s.address("rgbwwTable");
    auto parts = split(data, ", ");
    for (std::size_t i = 0; i < parts.size() && i < s.size("rgbwwTable"); ++i) s.set(fmt::format("rgbwwTable/{}", i), std::clamp(std::atoi(parts[i].c_str()), 0, 255));
    return done(data);
  }
  // PixelType: colour order 0..7, +8 RGBW, +16 white first (Commands.md).
  if (c == "PIXELTYPE" && s.has("mbflag2/light_pixels_order")) {
    for (const char* f : {"mbflag2/light_pixels_order", "mbflag2/light_pixels_rgbw", "mbflag2/light_pixels_w_first"}) s.address(f);
    if (a.payload >= 0 && a.payload < 32) {
      s.set("mbflag2/light_pixels_order", a.payload & 7);
      s.set("mbflag2/light_pixels_rgbw", (a.payload >> 3) & 1);
      s.set("mbflag2/light_pixels_w_first", (a.payload >> 4) & 1);
    }
    return done(number(a.payload));
  }
  // CmndPwm<x>: 0..PwmRange (the PWM pins are present, see above).
  if (c == "PWM" && has_index) {
    std::string path = idx <= static_cast<int>(s.size("pwm_value")) ? fmt::format("pwm_value/{}", idx - 1)
                                                                     : fmt::format("pwm_value_ext/{}", idx - 1 - static_cast<int>(s.size("pwm_value")));
    if (!s.has(path)) return false;
    s.address(path);
    if (a.payload >= 0 && a.payload <= s.number("pwm_range", 1023)) s.set(path, a.payload);
    return done(number(s.number(path)));
  }
  // CmndPwmfrequency: 1 = PWM_FREQ (977), else PWM_MIN..PWM_MAX (40..4000 ESP8266, 2..50000 ESP32, Commands.md).
  if (c == "PWMFREQUENCY" && s.has("pwm_frequency")) {
    s.address("pwm_frequency");
    std::int64_t lo = esp32 ? 2 : 40, hi = esp32 ? 50000 : 4000;
    if (a.payload == 1) s.set("pwm_frequency", 977);
    else if (a.payload >= lo && a.payload <= hi) s.set("pwm_frequency", a.payload);
    return done(number(s.number("pwm_frequency")));
  }
  // CmndPwmrange: 1 = 1023, else 255..1023; values above the range are lowered to it.
  if (c == "PWMRANGE" && s.has("pwm_range")) {
    s.address("pwm_range");
    if (a.payload == 1 || (a.payload > 254 && a.payload < 1024)) {
      auto range = a.payload == 1 ? 1023 : a.payload;
      s.set("pwm_range", range);
      for (std::size_t i = 0; i < s.size("pwm_value"); ++i)
        if (s.number(fmt::format("pwm_value/{}", i)) > range) s.set(fmt::format("pwm_value/{}", i), range);
    }
    return done(number(s.number("pwm_range")));
  }
  // CmndBaudrate / SBaudrate: >= 300 → rounded down to a multiple of 300, stored / 300 (SetSerialBaudrate).
  // Decoded (decode-config's converter) as stored * 1200.
  if ((c == "BAUDRATE" && s.has("baudrate")) || (c == "SBAUDRATE" && s.has("sbaudrate"))) {
    const char* f = c == "BAUDRATE" ? "baudrate" : "sbaudrate";
    s.address(f);
    if (a.payload >= 300) s.set(f, ((a.payload / 300) & 0xFFFF) * 1200);
    return done(number(s.number(f) / 4));
  }
  // CmndTCPBaudrate: 1200..115200, stored / 1200 (xdrv_41_tcp_bridge.ino). ModbusBaudrate: stored / 300.
  if (c == "TCPBAUDRATE" && s.has("tcp_baudrate")) {
    s.address("tcp_baudrate");
    if (a.payload >= 1200 && a.payload <= 115200) s.set("tcp_baudrate", a.payload / 1200 * 1200);
    return done(number(s.number("tcp_baudrate")));
  }
  if (c == "MODBUSBAUDRATE" && s.has("modbus_sbaudrate")) {
    s.address("modbus_sbaudrate");
    if (a.payload >= 300 && a.payload <= 115200) s.set("modbus_sbaudrate", a.payload / 300 * 300);
    return done(number(s.number("modbus_sbaudrate")));
  }
  if (c == "SERIALCONFIG" || c == "SSERIALCONFIG" || c == "TCPCONFIG" || c == "MODBUSSERIALCONFIG") {
    const char* f = c == "SERIALCONFIG" ? "serial_config" : c == "SSERIALCONFIG" ? "sserial_config" : c == "TCPCONFIG" ? "tcp_config" : "modbus_sconfig";
    if (!s.has(f)) return false;
    s.address(f);
    if (int v = serial_config_of(data); v >= 0) s.set(f, v);
    return done(number(s.number(f)));
  }
  // CmndSerialDelimiter: < 256: a number, else the first (unescaped) character.
  if (c == "SERIALDELIMITER" && s.has("serial_delimiter")) {
    s.address("serial_delimiter");
    if (!a.empty() && a.payload < 256) s.set("serial_delimiter", a.payload > 0 ? a.payload : static_cast<unsigned char>(data[0]));
    return done(number(s.number("serial_delimiter")));
  }
  // CmndWifiPower: (uint8_t)(float * 10), at most 205.
  if (c == "WIFIPOWER" && s.has("wifi_output_power")) {
    s.address("wifi_output_power");
    if (!a.empty()) s.set("wifi_output_power", std::min(205, static_cast<int>(static_cast<std::uint8_t>(to_float(data) * 10.0f))));
    return done(number(s.number("wifi_output_power")));
  }
  // CmndMqttWifiTimeout: 100..20000 ms, stored in tenths of a second (decoded in ms).
  if (c == "MQTTWIFITIMEOUT" && s.has("mqtt_wifi_timeout")) {
    s.address("mqtt_wifi_timeout");
    if (a.payload >= 100 && a.payload <= 20000) s.set("mqtt_wifi_timeout", a.payload / 100 * 100);
    return done(number(s.number("mqtt_wifi_timeout")));
  }
  // CmndLoghost: `1` = SYS_LOG_HOST (empty), else the text.
  if (c == "LOGHOST") {
    s.address("syslog_host");
    if (!a.empty()) s.set("syslog_host", data == "1" ? std::string() : std::string(data));
    return done(s.get("syslog_host") ? *s.get("syslog_host") : ojson(""));
  }
  // CmndLogport: 1..65535, 1 = SYS_LOG_PORT (514).
  if (c == "LOGPORT") {
    s.address("syslog_port");
    if (a.payload > 0 && a.payload < 65536) s.set("syslog_port", a.payload == 1 ? 514 : a.payload);
    return done(number(s.number("syslog_port")));
  }
  // CmndIpAddress<1..5>: ParseIPv4.
  if (c == "IPADDRESS" && idx >= 1 && idx <= static_cast<int>(s.size("ip_address"))) {
    std::string ip;
    s.address(fmt::format("ip_address/{}", idx - 1));
    if (parse_ipv4(data, ip)) s.set(fmt::format("ip_address/{}", idx - 1), ip);
    return done(data);
  }
  if ((c == "ETHIPADDRESS" || c == "ETHGATEWAY" || c == "ETHSUBNETMASK" || c == "ETHDNSSERVER") && s.has("eth_ipv4_address")) {
    int i = c == "ETHIPADDRESS" ? 0 : c == "ETHGATEWAY" ? 1 : c == "ETHSUBNETMASK" ? 2 : (has_index && index == 2 ? 4 : 3);
    std::string ip;
    s.address(fmt::format("eth_ipv4_address/{}", i));
    if (parse_ipv4(data, ip)) s.set(fmt::format("eth_ipv4_address/{}", i), ip);
    return done(data);
  }
  if ((c == "RGXADDRESS" && s.has("ipv4_rgx_address")) || (c == "RGXSUBNET" && s.has("ipv4_rgx_subnetmask"))) {
    std::string ip;
    s.address(c == "RGXADDRESS" ? "ipv4_rgx_address" : "ipv4_rgx_subnetmask");
    if (parse_ipv4(data, ip)) s.set(c == "RGXADDRESS" ? "ipv4_rgx_address" : "ipv4_rgx_subnetmask", ip);
    return done(data);
  }
  // CmndNtpServer<1..3>: `"` clears, 1 the default server, ',' becomes '.'.
  if (c == "NTPSERVER" && idx >= 1 && idx <= static_cast<int>(s.size("ntp_server"))) {
    s.address(fmt::format("ntp_server/{}", idx - 1));
    if (!a.empty()) {
      std::string v(data);
      if (v == "\"" || v == "0") v.clear();
      else if (v == "1") v = idx == 1 ? "pool.ntp.org" : idx == 2 ? "europe.pool.ntp.org" : "time.nist.gov";  // NTP_SERVER1..3
      std::replace(v.begin(), v.end(), ',', '.');
      s.set(fmt::format("ntp_server/{}", idx - 1), v);
    }
    return done(data);
  }
  // CmndAp: 0 toggles, 1/2 select the AP (sta_active 0/1).
  if (c == "AP" && s.has("sta_active")) {
    s.address("sta_active");
    if (a.payload == 0) s.set("sta_active", s.number("sta_active") ^ 1);
    if (a.payload == 1 || a.payload == 2) s.set("sta_active", a.payload - 1);
    if (a.payload >= 0 && a.payload <= 2) out.restart = true;
    return done(number(s.number("sta_active") + 1));
  }
  // CmndWifiConfig: 0..MAX_WIFI_OPTION-1; 1 (SmartConfig) and 3 (WPS) became 2 (WifiManager).
  if (c == "WIFICONFIG" && s.has("sta_config")) {
    s.address("sta_config");
    if (a.payload >= 0 && a.payload < 8) s.set("sta_config", (a.payload == 1 || a.payload == 3) ? 2 : a.payload);
    return done(number(s.number("sta_config")));
  }
  // CmndModule with index 2: the fallback module (0 = user template 255, else ModuleNr - 1).
  if (c == "MODULE" && has_index && index == 2 && s.has("fallback_module")) {
    s.address("fallback_module");
    if (a.payload >= 0 && a.payload <= 255) s.set("fallback_module", a.payload == 0 ? 255 : a.payload - 1);
    return done(number(s.number("fallback_module")));
  }
  // Tariff<1|2> <std>,<dst>: hh:mm, or hours below 24, or minutes; at most 23:59 (CmndTariff).
  if (c == "TARIFF" && (idx == 1 || idx == 2)) {
    bool rows = s.has("tariff");
    if (!rows && !s.has(fmt::format("tariff{}_0", idx))) return false;
    s.address(rows ? fmt::format("tariff/{}", idx - 1) : fmt::format("tariff{}_0", idx));
    if (!rows) s.address(fmt::format("tariff{}_1", idx));
    // From 12.4 the payload 0 (OFF) / 1 (ON) lets the clock choose / forces this tariff.
    bool forcing = s.has("mbflag2/tariff_forced");
    if (forcing) s.address("mbflag2/tariff_forced");
    if (forcing && a.payload == 0) {
      s.set("mbflag2/tariff_forced", 0);
    } else if (forcing && a.payload == 1) {
      s.set("mbflag2/tariff_forced", idx);
    } else {
      auto parts = split(data, ", ");
      for (std::size_t t = 0; t < parts.size() && t < 2; ++t) {
        long value = std::strtol(parts[t].c_str(), nullptr, 10);
        if (value < 24) {
          value *= 60;
          if (auto colon = parts[t].find(':'); colon != std::string::npos) value += std::min(59L, std::strtol(parts[t].c_str() + colon + 1, nullptr, 10));
        }
        value = std::min(value, 1439L);
        s.set(rows ? fmt::format("tariff/{}/{}", idx - 1, t) : fmt::format("tariff{}_{}", idx, t), value);
      }
    }
    return done(data);
  }
  if (c == "TARIFF" && idx == 9) {
    s.address("flag3/energy_weekend");
    s.set("flag3/energy_weekend", a.payload & 1);
    return done(number(a.payload & 1));
  }
  // PowerDelta<x> 0..31999 (CmndPowerDelta); PowerDelta one value before 8.x.
  if (c == "POWERDELTA") {
    auto* d = s.get("energy_power_delta");
    if (!d) return false;
    std::string path = d->is_array() ? fmt::format("energy_power_delta/{}", idx - 1) : "energy_power_delta";
    if (!s.has(path)) return false;
    s.address(path);
    if (a.payload >= 0 && a.payload < 32000) s.set(path, a.payload);
    return done(number(s.number(path)));
  }
  // CmndLatitude/Longitude: (int)(CharToDouble * 1000000), decoded as degrees.
  if ((c == "LATITUDE" || c == "LONGITUDE") && s.has(lower(c))) {
    s.address(lower(c));
    if (!a.empty()) {
      auto micro = static_cast<std::int32_t>(std::strtod(std::string(data).c_str(), nullptr) * 1000000.0);
      s.set(lower(c), static_cast<double>(micro) / 1000000.0);
    }
    return done(data);
  }
  // TuyaMCU <fnid>,<dpid>: maps the function to the DP, in the first free slot (or the function's own);
  // <fnid>,0 removes it (Commands.md).
  if (c == "TUYAMCU" && s.has("tuya_fnid_map")) {
    s.address("tuya_fnid_map");
    auto parts = split(data, ", ");
    if (parts.size() == 2) {
      int fn = std::atoi(parts[0].c_str()), dp = std::atoi(parts[1].c_str());
      std::size_t n = s.size("tuya_fnid_map");
      std::size_t slot = n;
      for (std::size_t i = 0; i < n && slot == n; ++i)
        if (s.number(fmt::format("tuya_fnid_map/{}/fnid", i)) == fn) slot = i;
      for (std::size_t i = 0; i < n && slot == n; ++i)
        if (s.number(fmt::format("tuya_fnid_map/{}/fnid", i)) == 0 && s.number(fmt::format("tuya_fnid_map/{}/dpid", i)) == 0) slot = i;
      if (slot < n) {
        s.set(fmt::format("tuya_fnid_map/{}/fnid", slot), dp ? fn : 0);
        s.set(fmt::format("tuya_fnid_map/{}/dpid", slot), dp);
      }
    }
    return done(data);
  }
  // Sensor<n> commands of the sensor drivers: their sub-commands as decode-config names them.
  if (c == "SENSOR" && has_index) {
    auto parts = split(data, ", ");
    auto at = [&](std::size_t i) { return i < parts.size() ? parts[i] : std::string(); };
    auto num = [&](std::size_t i) { return std::strtoll(at(i).c_str(), nullptr, 0); };
    switch (index) {
      case 13: if (s.has("ina219_mode") && !parts.empty()) s.set("ina219_mode", num(0)); break;
      case 15: if (s.has("SensorBits1/mhz19b_abc_disable") && !parts.empty()) s.set("SensorBits1/mhz19b_abc_disable", num(0) & 1); break;
      case 18: if (s.has("pms_wake_interval") && !parts.empty()) s.set("pms_wake_interval", num(0)); break;
      case 20: if (s.has("novasds_startingoffset") && !parts.empty()) s.set("novasds_startingoffset", num(0)); break;
      case 116: if (s.has("ms5837_pressure_offset") && !parts.empty()) s.set("ms5837_pressure_offset", std::strtod(at(0).c_str(), nullptr)); break;
      case 29: {  // Sensor29 <pin>,<mode>,<pull-up>,<report>; Sensor29 IntRetain,<pin>,<0|1> (xsns_29_mcp230xx)
        if (!s.has("mcp230xx_config")) return false;
        if (upper(at(0)) == "INTRETAIN" && parts.size() == 3) {
          s.set(fmt::format("mcp230xx_config/{}/int_retain_flag", num(1)), num(2) & 1);
        } else if (parts.size() == 4 && num(0) >= 0 && num(0) < static_cast<long long>(s.size("mcp230xx_config"))) {
          auto base = fmt::format("mcp230xx_config/{}/", num(0));
          s.set(base + "pinmode", num(1) & 7);
          s.set(base + "pullup", num(2) & 1);
          s.set(base + "int_report_mode", num(3) & 3);
        }
        break;
      }
      case 34: {  // Sensor34 <n> <value> (xsns_34_hx711)
        static const std::pair<int, const char*> subs[] = {{3, "weight_reference"}, {4, "weight_calibration"}, {5, "weight_max"},
                                                           {6, "weight_item"}, {8, "SensorBits1/hx711_json_weight_change"},
                                                           {9, "weight_change"}, {10, "weight_user_tare"}, {11, "weight_absconv_a"},
                                                           {12, "weight_absconv_b"}};
        for (auto [n, f] : subs)
          if (num(0) == n && parts.size() >= 2 && s.has(f)) {
            if (n == 5) s.set(f, std::floor(std::strtod(at(1).c_str(), nullptr)));
            else if (n == 8) s.set(f, num(1) & 1);
            else s.set(f, num(1));
          }
        break;
      }
      case 40:  // Sensor40 AUTH,<password>,<pack> (xsns_40_pn532)
        if (s.has("pn532_password") && upper(at(0)) == "AUTH" && parts.size() == 3) {
          s.set("pn532_password", num(1));
          s.set("pn532_pack", num(2));
        }
        break;
      case 54: {  // Sensor54 <sensor><1|2> <value>: shunt resistance, full scale (xsns_54_ina226)
        auto sub = num(0);
        int sensor = static_cast<int>(sub / 10), what = static_cast<int>(sub % 10);
        const char* f = what == 1 ? "ina226_r_shunt" : what == 2 ? "ina226_i_fs" : nullptr;
        if (f && sensor >= 1 && sensor <= static_cast<int>(s.size(f)) && parts.size() >= 2) s.set(fmt::format("{}/{}", f, sensor - 1), num(1));
        break;
      }
      case 68: {  // Sensor68 <n>,<value> (xsns_68_windmeter)
        static const char* subs[] = {nullptr, "windmeter_radius", "windmeter_pulses_x_rot", "windmeter_pulse_debounce", "windmeter_speed_factor",
                                     "windmeter_tele_pchange", "windmeter_measure_intvl"};
        auto n = num(0);
        if (n >= 1 && n <= 6 && parts.size() >= 2 && s.has(subs[n]))
          s.set(subs[n], n == 4 ? static_cast<long long>(std::llround(std::strtod(at(1).c_str(), nullptr) * 1000)) : num(1));
        break;
      }
      case 96: {  // Sensor96 0 <unit>; Sensor96 <1|2> <calibration> (xsns_96_flowratemeter)
        if (parts.size() < 2) break;
        if (num(0) == 0 && s.has("SensorBits1/flowratemeter_unit")) s.set("SensorBits1/flowratemeter_unit", num(1) & 1);
        else if (num(0) >= 1 && num(0) <= static_cast<long long>(s.size("flowratemeter_calibration"))) s.set(fmt::format("flowratemeter_calibration/{}", num(0) - 1), num(1));
        break;
      }
      default:
        return false;
    }
    return done(data);
  }
  // KeeloqSet <master msb> <master lsb> <serial> <count> (xdrv_36_keeloq).
  if (c == "KEELOQSET" && s.has("keeloq_master_msb")) {
    auto parts = split(data, " ");
    static const char* f[] = {"keeloq_master_msb", "keeloq_master_lsb", "keeloq_serial", "keeloq_count"};
    for (auto* x : f) s.address(x);
    if (parts.size() == 4)
      for (int i = 0; i < 4; ++i) s.set(f[i], static_cast<std::uint32_t>(std::strtoul(parts[static_cast<std::size_t>(i)].c_str(), nullptr, 0)));
    return done(data);
  }
  // TmState 0/1 send, 2/3 receive, 4/5 echo, 6/7 auto-format (xdrv_40_telegram.ino).
  if (c == "TMSTATE" && s.has("sbflag1/telegram_send_enable")) {
    static const char* f[] = {"sbflag1/telegram_send_enable", "sbflag1/telegram_recv_enable", "sbflag1/telegram_echo_enable", "sbflag1/telegram_disable_af"};
    if (a.payload >= 0 && a.payload <= 7 && s.has(f[a.payload / 2])) {
      s.address(f[a.payload / 2]);
      s.set(f[a.payload / 2], a.payload & 1);
    }
    return done(number(a.payload));
  }
  // OT_Flags <names> (xsns_69_opentherm); OT_TWater / OT_TBoiler take the setpoints OT_Save_Setpoints keeps.
  if (c == "OT_FLAGS" && s.has("ot_flags")) {
    s.address("ot_flags");
    static const char* names[] = {"CHOD", "DHW", "CH", "COOL", "OTC", "CH2"};
    int v = 0;
    for (auto& n : split(upper(std::string(data)), ","))
      for (int i = 0; i < 6; ++i)
        if (n == names[i]) v |= 1 << i;
    s.set("ot_flags", v);
    return done(data);
  }
  if ((c == "OT_TWATER" || c == "OT_TBOILER") && s.has("ot_boiler_setpoint")) {
    s.address(c == "OT_TWATER" ? "ot_hot_water_setpoint" : "ot_boiler_setpoint");
    pending_setpoints_[c == "OT_TWATER" ? 0 : 1] = a.payload;
    return done(data);
  }
  if (c == "OT_SAVE_SETPOINTS" && s.has("ot_boiler_setpoint")) {
    if (pending_setpoints_[0]) s.set("ot_hot_water_setpoint", *pending_setpoints_[0]);
    if (pending_setpoints_[1]) s.set("ot_boiler_setpoint", *pending_setpoints_[1]);
    return done("Done");
  }
  // ZbConfig {"Channel","PanID","ExtPanID","KeyL","KeyH","TxRadio"} (xdrv_23_zigbee_A_impl.ino).
  if (c == "ZBCONFIG" && s.has("zb_channel")) {
    for (const char* f : {"zb_channel", "zb_pan_id", "zb_ext_panid", "zb_precfgkey_l", "zb_precfgkey_h", "zb_txradio_dbm"}) s.address(f);
    auto j = ojson::parse(data, nullptr, false);
    if (j.is_object()) {
      auto get = [&](const char* k) -> const ojson* {
        for (auto it = j.begin(); it != j.end(); ++it)
          if (upper(it.key()) == upper(k)) return &it.value();
        return nullptr;
      };
      auto hex = [&](const ojson* v) { return v && v->is_string() ? std::stoull(v->get<std::string>(), nullptr, 0) : (v ? v->get<std::uint64_t>() : 0); };
      if (auto* v = get("Channel")) s.set("zb_channel", v->get<int>());
      if (auto* v = get("PanID")) s.set("zb_pan_id", fmt::format("0x{:016x}", hex(v) & 0xFFFF));
      if (auto* v = get("ExtPanID")) s.set("zb_ext_panid", fmt::format("0x{:016x}", hex(v)));
      if (auto* v = get("KeyL")) s.set("zb_precfgkey_l", fmt::format("0x{:016x}", hex(v)));
      if (auto* v = get("KeyH")) s.set("zb_precfgkey_h", fmt::format("0x{:016x}", hex(v)));
      if (auto* v = get("TxRadio")) s.set("zb_txradio_dbm", v->get<int>());
    }
    return done(data);
  }
  // Adc <function> and AdcParam <type>,<p1>,<p2>,<p3>[,<p4>] of 6.x-9.0 (xsns_02_analog.ino), as given.
  if (c == "ADC" && s.has("my_adc0")) {
    s.address("my_adc0");
    if (a.payload >= 0) s.set("my_adc0", a.payload);
    out.restart = true;
    return done(number(a.payload));
  }
  if (c == "ADCPARAM" && s.has("adc_param1")) {
    for (const char* f : {"adc_param_type", "adc_param1", "adc_param2", "adc_param3", "adc_param4"})
      if (s.has(f)) s.address(f);
    auto parts = split(data, ",");
    if (parts.size() >= 4) {
      if (s.has("adc_param_type") && version_ >= planner::Version{7, 1, 2, 5} && version_ < planner::Version{8, 1, 0, 4})
        s.set("adc_param_type", std::atoi(parts[0].c_str()));
      s.set("adc_param1", std::strtoll(parts[1].c_str(), nullptr, 10));
      s.set("adc_param2", std::strtoll(parts[2].c_str(), nullptr, 10));
      bool integral = parts.size() == 5 || (version_ >= planner::Version{7, 1, 2, 5} && version_ < planner::Version{8, 1, 0, 4});
      s.set("adc_param3", integral ? std::strtoll(parts[3].c_str(), nullptr, 10) * (parts.size() == 5 ? 1 : 10000)
                                   : static_cast<long long>(std::llround(std::strtod(parts[3].c_str(), nullptr) * 10000)));
      if (parts.size() == 5 && s.has("adc_param4")) s.set("adc_param4", std::strtoll(parts[4].c_str(), nullptr, 10));
    }
    return done(data);
  }
  // Shutters (xdrv_27_shutter.ino). A shutter is present when SetOption80 is on and its relay is set
  // (TasmotaGlobal.shutters_present, from ShutterInit): the commands below take only those.
  int present = 0;
  if (s.number("flag3/shutter_mode"))
    while (present < static_cast<int>(s.size("shutter_startrelay")) && s.number(fmt::format("shutter_startrelay/{}", present)) > 0) ++present;
  bool shutter_ok = idx >= 1 && idx <= present;
  // The field each shutter command is meant to set (addressed even when no shutter is present).
  static const std::pair<const char*, const char*> kShutterFields[] = {
      {"SHUTTEROPENDURATION", "shutter_opentime"}, {"SHUTTERCLOSEDURATION", "shutter_closetime"}, {"SHUTTERMOTORDELAY", "shutter_motordelay"},
      {"SHUTTERINVERT", "shutter_options|shutter_invert"}, {"SHUTTERLOCK", "shutter_options"}, {"SHUTTERENABLEENDSTOPTIME", "shutter_options"},
      {"SHUTTERINVERTWEBBUTTONS", "shutter_options"}, {"SHUTTERSETHALFWAY", "shutter_set50percent"}, {"SHUTTERRELAY", "shutter_startrelay"}};
  for (auto [n, f] : kShutterFields)
    if (c == n && idx >= 1 && s.has(f)) s.address(fmt::format("{}/{}", s.key(f), idx - 1));
  if (c == "SHUTTERCALIBRATION" && idx >= 1) {
    for (int i = 0; i < 5; ++i) s.address(fmt::format("shuttercoeff/{}/{}", i, idx - 1));
    s.address(fmt::format("shutter_set50percent/{}", idx - 1));
  }
  if ((c == "SHUTTERPWMRANGE" || c == "SHUTTERTILTCONFIG") && idx >= 1) {
    const char* f = c == "SHUTTERPWMRANGE" ? "shutter_pwmrange" : "shutter_tilt_config";
    for (std::size_t i = 0; i < s.size(f); ++i) s.address(fmt::format("{}/{}/{}", f, i, idx - 1));
  }
  if (c == "SHUTTERBUTTON" && !data.empty()) {
    int button = std::atoi(std::string(data).c_str());
    if (button >= 1) s.address(fmt::format("shutter_button/{}", button - 1));
  }
  if (c == "SHUTTERRELAY" && s.has("shutter_startrelay")) {
    // CmndShutterRelay: 0..32 for shutters 1..MAX_SHUTTERS; the first one on an undefined mode sets
    // the mode to autoconfig.
    if (a.payload >= 0 && a.payload <= 32 && idx >= 1 && idx <= static_cast<int>(s.size("shutter_startrelay"))) {
      if (idx == 1 && s.number("shutter_startrelay/0") == 0 && s.number("shutter_mode") == 0) s.set("shutter_mode", 255);
      s.set(fmt::format("shutter_startrelay/{}", idx - 1), a.payload);
    }
    return done(number(a.payload));
  }
  if ((c == "SHUTTEROPENDURATION" || c == "SHUTTERCLOSEDURATION") && shutter_ok) {
    // (uint16_t)(10 * CharToFloat)
    if (!a.empty()) s.set(fmt::format("{}/{}", c == "SHUTTEROPENDURATION" ? "shutter_opentime" : "shutter_closetime", idx - 1),
                          static_cast<int>(static_cast<std::uint16_t>(10.0f * to_float(data))));
    return done(data);
  }
  if (c == "SHUTTERMOTORDELAY" && shutter_ok) {
    // (uint8_t)(STEPS_PER_SECOND * CharToFloat), STEPS_PER_SECOND 20
    if (!a.empty()) s.set(fmt::format("shutter_motordelay/{}", idx - 1), static_cast<int>(static_cast<std::uint8_t>(20.0f * to_float(data))));
    return done(data);
  }
  if ((c == "SHUTTERINVERT" || c == "SHUTTERLOCK" || c == "SHUTTERENABLEENDSTOPTIME" || c == "SHUTTERINVERTWEBBUTTONS") && shutter_ok) {
    // ShutterOptionsSetHelper: 0 clears, 1 sets the option bit.
    if (!s.has("shutter_options")) {  // 6.x: ShutterInvert<x> had a byte of its own
      if (c == "SHUTTERINVERT" && s.has("shutter_invert") && !a.empty()) s.set(fmt::format("shutter_invert/{}", idx - 1), a.payload);
      return done(number(a.payload));
    }
    int bit = c == "SHUTTERINVERT" ? 1 : c == "SHUTTERLOCK" ? 2 : c == "SHUTTERENABLEENDSTOPTIME" ? 4 : 8;
    auto path = fmt::format("shutter_options/{}", idx - 1);
    auto v = s.number(path);
    if (a.payload == 0) s.set(path, v & ~bit);
    if (a.payload == 1) s.set(path, v | bit);
    return done(number(a.payload));
  }
  if (c == "SHUTTERSETHALFWAY" && shutter_ok) {
    // Stored inverted (100 - x) for an inverted shutter; clears the first calibration coefficient.
    if (a.payload >= 0 && a.payload <= 100) {
      bool inverted = s.has("shutter_options") ? (s.number(fmt::format("shutter_options/{}", idx - 1)) & 1) : false;
      s.set(fmt::format("shutter_set50percent/{}", idx - 1), inverted ? 100 - a.payload : a.payload);
      s.set(fmt::format("shuttercoeff/0/{}", idx - 1), 0);
    }
    return done(number(a.payload));
  }
  if (c == "SHUTTERCALIBRATION" && shutter_ok) {
    // Five increasing measurements (1..30000; a bad one stops the parsing and keeps the earlier ones),
    // stored scaled to the last (SHT_DIV_ROUND(x * 1000, last)); the halfway point becomes 50.
    auto parts = split(data, " ,");
    for (std::size_t i = 0; i < parts.size() && i < 5; ++i) {
      int field = std::atoi(parts[i].c_str());
      if (field <= 0 || field > 30000 || (i > 0 && field <= shutter_measured_[i - 1])) break;
      shutter_measured_[i] = field;
    }
    s.set(fmt::format("shutter_set50percent/{}", idx - 1), 50);
    for (int i = 0; i < 5; ++i) {
      auto m = static_cast<std::uint32_t>(shutter_measured_[static_cast<std::size_t>(i)]);
      auto last = static_cast<std::uint32_t>(shutter_measured_[4]);
      s.set(fmt::format("shuttercoeff/{}/{}", i, idx - 1), last ? (m * 1000 + last / 2) / last : 0);
    }
    return done(data);
  }
  if (c == "SHUTTERPWMRANGE" && shutter_ok && s.has("shutter_pwmrange")) {
    // Up to two values 1..1023; a bad one stops the parsing.
    auto parts = split(data, " ,");
    for (std::size_t i = 0; i < parts.size() && i < 2; ++i) {
      int field = std::atoi(parts[i].c_str());
      if (field <= 0 || field > 1023) break;
      s.set(fmt::format("shutter_pwmrange/{}/{}", i, idx - 1), field);
    }
    return done(data);
  }
  if (c == "SHUTTERTILTCONFIG" && shutter_ok && s.has("shutter_tilt_config")) {
    // Up to five values; the third (the tilt's run time) is 127 when negative.
    auto parts = split(data, " ,");
    for (std::size_t i = 0; i < parts.size() && i < s.size("shutter_tilt_config"); ++i) {
      int v = std::atoi(parts[i].c_str());
      if (i == 2 && v < 0) v = 127;
      s.set(fmt::format("shutter_tilt_config/{}/{}", i, idx - 1), static_cast<std::int8_t>(v));
    }
    return done(data);
  }
  if (c == "SHUTTERBUTTON" && idx >= 1 && idx <= 4 && s.has("shutter_button")) {
    // CmndShutterButton <button> <p1> <p2> <p3> <ph> <m1> <m2> <m3> <mh> <mi>: positions 0..100 (stored
    // (p >> 1) + 1), "-" none, "t" toggle (102); the MQTT flags set by 1. A button of another
    // shutter is taken over; anything set enables it.
    auto parts = split(data, " ");
    if (!parts.empty()) {
      int button = std::atoi(parts[0].c_str());
      if (button >= 1 && button <= static_cast<int>(s.size("shutter_button"))) {
        auto base = fmt::format("shutter_button/{}/", button - 1);
        static const char* press[] = {"press_single", "press_double", "press_triple", "press_hold"};
        static const char* mqtt[] = {"mqtt_broadcast_single", "mqtt_broadcast_double", "mqtt_broadcast_triple", "mqtt_broadcast_hold", "mqtt_broadcast_all"};
        bool any = false;
        for (int i = 0; i < 4; ++i) {
          auto t = static_cast<std::size_t>(i + 1) < parts.size() ? parts[static_cast<std::size_t>(i + 1)] : std::string("-");
          int field = t[0] == '-' ? -1 : t[0] == 't' ? 102 : std::atoi(t.c_str());
          if (field >= 0 && field <= 102) {
            s.set(base + press[i], field == 102 ? ojson(102) : ojson((field >> 1) << 1));
            any = true;
          } else {
            s.set(base + press[i], "-");
          }
        }
        for (int i = 0; i < 5; ++i) {
          bool on = static_cast<std::size_t>(i + 5) < parts.size() && parts[static_cast<std::size_t>(i + 5)] == "1";
          s.set(base + mqtt[i], on ? 1 : 0);
          any = any || on;
        }
        s.set(base + "enabled", any ? 1 : 0);
        s.set(base + "shutter", any ? idx : 1);
      }
    }
    return done(data);
  }
  return false;
}

}  // namespace fleet::sim
