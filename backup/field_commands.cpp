#include "backup/field_commands.h"

#include <fmt/format.h>

#include <cmath>

#include "backup/settings_layouts.h"

namespace fleet::backup {
namespace {

using ojson = nlohmann::ordered_json;
using S = Stage;
using F = Form;

// Grouped as decode-config groups its commands. Argument formats are decode-config's lambdas; the
// notes say where Tasmota's command code decides something about them.
constexpr FieldCommand kTable[] = {
    // Control (support_command.ino)
    {"blinkcount", "BlinkCount"},
    {"blinktime", "BlinkTime"},
    {"button_debounce", "ButtonDebounce"},
    {"switch_debounce", "SwitchDebounce"},
    {"device_group_topic", "DevGroupName#", F::Text},  // CmndDevGroupName: `"` or 0 clears
    {"device_group_tie", "DevGroupTie#"},
    {"mbflag2/json_pretty_print", "JsonPP"},
    {"ledmask", "LedMask"},  // CmndLedMask: strtol base 0 takes the 0x form
    {"ledpwm_off", "LedPwmOff"},
    {"ledpwm_on", "LedPwmOn"},
    // CmndPwm stores a value only for a PWM pin the module has: after the hardware.
    {"pwm_value", "Pwm#", F::Number, S::Network},
    {"pwm_value_ext", "Pwm#", F::Number, S::Network, 0, 6},
    {"poweronstate", "PowerOnState"},
    {"pulse_timer", "PulseTime#"},
    {"switchmode", "SwitchMode#"},
    {"button_text", "WebButton#", F::Text},
    // Display (xdrv_13_display.ino)
    {"display_address", "DisplayAddress#"},
    {"display_cols", "DisplayCols#"},
    {"display_dimmer", "DisplayDimmer"},
    {"display_dimmer_protected", "DisplayDimmer", F::Absolute},  // stored negated while a dimmer protects it
    {"display_font", "DisplayFont"},
    {"display_height", "DisplayHeight"},
    {"display_options/invert", "DisplayInvert"},
    {"display_mode", "DisplayMode"},
    {"display_model", "DisplayModel"},
    {"display_refresh", "DisplayRefresh"},
    {"display_rotate", "DisplayRotate"},
    {"display_rows", "DisplayRows"},
    {"display_size", "DisplaySize"},
    {"display_options/type", "DisplayType"},
    {"display_width", "DisplayWidth"},
    // Domoticz (xdrv_07_domoticz.ino): "Domoticz…" before 8.4.0, "Dz…" from then (Tasmota CHANGELOG 8.4.0)
    {"domoticz_relay_idx", "DzIdx#"},
    {"domoticz_key_idx", "DzKeyIdx#"},
    {"domoticz_sensor_idx", "DzSensorIdx#"},
    {"domoticz_switch_idx", "DzSwitchIdx#"},
    {"domoticz_update_timer", "DzUpdateTimer"},
    // HDMI CEC, KNX
    {"hdmi_addr", "HdmiAddr"},
    {"hdmi_cec_device_type", "HdmiType"},
    {"flag/knx_enabled", "KNX_ENABLED"},
    {"flag/knx_enable_enhancement", "KNX_ENHANCED"},
    // Light (xdrv_04_light.ino and the dimmer drivers)
    {"bri_min", "BriMin"},
    {"mbflag2/dali_group_sliders", "DaliGroupSliders"},
    {"sbflag1/dali_light", "DaliLight"},
    {"dimmer_step", "DimmerStep"},
    {"light_fade", "Fade"},
    {"light_correction", "LedTable"},
    {"pwm_dimmer_cfg/pwm_count", "PWMDimmerPWMs", F::Number, S::Settings, 1},  // stored as count - 1
    {"light_pixels", "Pixels"},
    {"light_rotation", "Rotation"},
    {"light_scheme", "Scheme"},
    {"shd_leading_edge", "ShdLeadingEdge"},
    {"shd_warmup_brightness", "ShdWarmupBrightness"},
    {"shd_warmup_time", "ShdWarmupTime"},
    {"light_speed", "Speed"},
    {"light_step_pixels", "StepPixels"},
    {"light_wakeup", "WakeUpDuration"},
    {"light_dimmer", "Wakeup"},
    {"light_width", "Width"},
    {"zcdimmerset", "ZCDimmerSet#", F::Hundredths},
    // Management
    {"devicename", "DeviceName", F::Text},
    {"flag2/emulation", "Emulation"},
    {"friendlyname", "FriendlyName#", F::Text},
    {"sbflag1/influxdb_state", "Ifx"},
    {"influxdb_host|influxdb_host32", "IfxHost", F::Text},
    {"influxdb_bucket|influxdb_bucket32", "IfxBucket", F::Text},
    {"influxdb_rp|influxdb_rp32", "IfxRP", F::Text},
    {"influxdb_period", "IfxPeriod"},
    {"influxdb_port", "IfxPort"},
    {"sbflag1/influxdb_sensor", "IfxSensor"},
    {"sbflag1/sonoff_l1_music_sync", "L1MusicSync"},
    // CmndLoghost has no clear: `1` restores SYS_LOG_HOST, which is empty unless compiled otherwise
    {"syslog_host", "LogHost", F::TextOrDefault},
    {"syslog_port", "LogPort"},
    {"mqttlog_level", "MqttLog"},
    {"ntp_server", "NtpServer#", F::Text},         // CmndNtpServer: `"` clears
    {"ota_url", "OtaUrl", F::TextOrDefault},        // CmndOtaUrl: only `1` (OTA_URL), no clear
    {"pwm_frequency", "PwmFrequency"},
    {"pwm_range", "PwmRange"},
    {"save_data", "SaveData"},
    {"seriallog_level", "SerialLog"},
    {"sleep", "Sleep"},
    {"switchtext", "SwitchText#", F::Text},
    {"syslog_level", "SysLog"},
    {"flag2/time_format", "Time", F::Number, S::Settings, 1},  // CmndTime: Time 1..4 stores 0..3
    {"mbflag2/temperature_set_res", "TuyaTempSetRes"},
    {"weblog_level", "WebLog"},
    {"touch_threshold", "TouchThres"},
    {"sbflag1/local_ntp_server", "RtcNtpserver"},
    {"sbflag1/sspm_display", "SSPMDisplay"},
    {"weight_reference", "Sensor34 3"},
    {"weight_calibration", "Sensor34 4"},
    {"weight_max", "Sensor34 5"},
    {"weight_item", "Sensor34 6"},
    {"SensorBits1/hx711_json_weight_change", "Sensor34 8"},
    {"weight_change", "Sensor34 9"},
    {"weight_user_tare", "Sensor34 10"},
    {"weight_absconv_a", "Sensor34 11"},
    {"weight_absconv_b", "Sensor34 12"},
    // MQTT settings that need no restart (xdrv_02_9_mqtt.ino)
    {"flag/mqtt_button_retain", "ButtonRetain"},
    {"button_topic", "ButtonTopic", F::Text},  // CmndButtonTopic: `"` clears
    {"flag5/mqtt_info_retain", "InfoRetain"},
    {"mqtt_keepalive", "MqttKeepAlive"},
    {"mqtt_retry", "MqttRetry"},
    {"mqtt_socket_timeout", "MqttTimeout"},
    {"mqtt_wifi_timeout", "MqttWifiTimeout"},  // decoded in ms, as the command takes it
    {"flag/mqtt_power_retain", "PowerRetain"},
    {"flag/mqtt_sensor_retain", "SensorRetain"},
    {"flag5/mqtt_state_retain", "StateRetain"},
    {"state_text", "StateText#", F::TextIfAny},  // CmndStateText stores any text as it is: no clear
    {"flag5/mqtt_status_retain", "StatusRetain"},
    {"flag/mqtt_switch_retain", "SwitchRetain"},
    {"switch_topic", "SwitchTopic", F::Text},  // CmndSwitchTopic: `"` clears
    {"tele_period", "TelePeriod"},
    // Power (xdrv_03_energy.ino): calibration and limits; the meter readings are state (not sent). Not
    // FrequencySet/PowerSet2/VoltageSet2/CurrentSet2 as decode-config writes them: the XxxSet commands
    // take a reference measurement and compute the calibration from the live reading
    // (EnergyCommandCalResponse), they do not take a stored calibration.
    {"energy_current_calibration", "CurrentCal"},
    {"energy_max_current", "CurrentHigh"},
    {"energy_min_current", "CurrentLow"},
    {"flag2/frequency_resolution", "FreqRes"},
    {"energy_max_energy", "MaxEnergy"},
    {"energy_max_energy_start", "MaxEnergyStart"},
    {"energy_max_power_limit", "MaxPower"},
    {"energy_max_power_limit_hold", "MaxPowerHold"},
    {"energy_max_power_limit_window", "MaxPowerWindow"},
    {"energy_power_calibration", "PowerCal"},
    {"energy_power_delta", "PowerDelta#"},  // one value ("PowerDelta") before the per-phase array of 8.x
    {"energy_max_power", "PowerHigh"},
    {"energy_min_power", "PowerLow"},
    // CmndSafePower… (decode-config writes "SavePower…", which no firmware knows).
    {"energy_max_power_safe_limit", "SafePower"},
    {"energy_max_power_safe_limit_hold", "SafePowerHold"},
    {"energy_max_power_safe_limit_window", "SafePowerWindow"},
    {"energy_voltage_calibration", "VoltageCal"},
    {"energy_max_voltage", "VoltageHigh"},
    {"energy_min_voltage", "VoltageLow"},
    {"flag3/energy_weekend", "Tariff9"},
    {"ina226_r_shunt", "Sensor54 #1"},
    {"ina226_i_fs", "Sensor54 #2"},
    // RF
    {"rf_protocol_mask", "RfProtocol"},
    {"rf_duplicate_time", "RfTimeOut"},
    // Rules (xdrv_10_rules.ino)
    {"flag2/calc_resolution", "CalcRes"},
    {"mems", "Mem#", F::Text},  // CmndMemory: `"` clears
    // Sensors
    {"as3935_functions/dist_autotune", "AS3935AutoDisturber"},
    {"as3935_functions/nf_autotune", "AS3935AutoNF"},
    {"as3935_functions/nf_autotune_both", "AS3935AutoNFMax"},
    {"as3935_parameter/dist_autotune_time", "AS3935DistTime"},
    {"as3935_functions/mqtt_only_Light_Event", "AS3935MQTTEvent"},
    {"as3935_parameter/nf_autotune_time", "AS3935NFTime"},
    {"flag4/suppress_irq_no_Event", "AS3935NoIrqEvent"},
    {"as3935_parameter/nf_autotune_min", "AS3935SetMinStage"},
    {"altitude", "Altitude"},
    {"flag2/current_resolution", "AmpRes"},
    {"SensorBits1/bh1750_1_resolution", "Bh1750Resolution1"},
    {"SensorBits1/bh1750_2_resolution", "Bh1750Resolution2"},
    {"pulse_counter_debounce", "CounterDebounce"},
    {"pulse_counter_debounce_high", "CounterDebounceHigh"},
    {"pulse_counter_debounce_low", "CounterDebounceLow"},
    {"pulse_counter_type/pulse_counter_type1", "CounterType1"},
    {"pulse_counter_type/pulse_counter_type2", "CounterType2"},
    {"pulse_counter_type/pulse_counter_type3", "CounterType3"},
    {"pulse_counter_type/pulse_counter_type4", "CounterType4"},
    {"flag2/energy_resolution", "EnergyRes"},
    {"hotplug_scan", "HotPlug"},
    {"hum_comp", "HumOffset", F::Tenths},
    {"flag2/humidity_resolution", "HumRes"},
    {"flag2/pressure_resolution", "PressRes"},
    {"ina219_mode", "Sensor13"},
    {"SensorBits1/mhz19b_abc_disable", "Sensor15"},
    {"pms_wake_interval", "Sensor18"},
    {"novasds_startingoffset", "Sensor20"},
    {"windmeter_radius", "Sensor68 1,{}"},
    {"windmeter_pulses_x_rot", "Sensor68 2,{}"},
    {"windmeter_pulse_debounce", "Sensor68 3,{}"},
    {"windmeter_tele_pchange", "Sensor68 5,{}"},
    {"windmeter_measure_intvl", "Sensor68 6,{}"},
    {"SensorBits1/flowratemeter_unit", "Sensor96 0"},
    {"flowratemeter_calibration", "Sensor96 #"},
    {"ms5837_pressure_offset", "Sensor116"},
    {"shift595_device_count", "Shift595DeviceCount"},
    {"flag2/speed_conversion", "SpeedUnit"},
    {"temp_comp", "TempOffset", F::Tenths},
    {"flag2/temperature_resolution", "TempRes"},
    {"flag2/voltage_resolution", "VoltRes"},
    {"flag2/wattage_resolution", "WattRes"},
    {"flag2/weight_resolution", "WeightRes"},
    {"ds3502_state", "Wiper#"},
    // Serial
    {"modbus_sbaudrate", "ModbusBaudrate"},
    {"sserial_mode", "SSerialMode"},
    {"serial_delimiter", "SerialDelimiter"},
    {"tcp_baudrate", "TCPBaudrate"},
    {"sbflag1/serbridge_console", "SSerialSend9"},
    // Shutters (xdrv_27_shutter.ino): after the hardware, they name relays of the module. ShutterRelay
    // first: the other commands take only shutters present (TasmotaGlobal.shutters_present).
    {"shutter_startrelay", "ShutterRelay#", F::Number, S::Network},
    {"shutter_mode", "ShutterMode", F::Number, S::Network},
    {"shutter_closetime", "ShutterCloseDuration#", F::Tenths, S::Network},
    // CmndShutterMotorDelay stores STEPS_PER_SECOND (20) * seconds: two decimals give it back exactly
    // (decode-config's one decimal loses half the steps).
    {"shutter_motordelay", "ShutterMotorDelay#", F::Twentieths, S::Network},
    {"shutter_motorstop", "ShutterMotorStop", F::Number, S::Network},
    {"shutter_opentime", "ShutterOpenDuration#", F::Tenths, S::Network},
    {"shutter_invert", "ShutterInvert#", F::Number, S::Network},
    // Telegram: TmState 0/1 send, 2/3 receive, 4/5 echo, 6/7 auto-format (xdrv_40_telegram.ino)
    {"sbflag1/telegram_send_enable", "TmState"},
    {"sbflag1/telegram_recv_enable", "TmState", F::Number, S::Settings, 2},
    {"sbflag1/telegram_echo_enable", "TmState", F::Number, S::Settings, 4},
    {"sbflag1/telegram_disable_af", "TmState", F::Number, S::Settings, 6},
    {"telegram_token", "TmToken", F::Text, S::Settings, 0, 1, true},
    {"telegram_chatid", "TmChatId", F::Text},
    {"telegram_fingerprint", "TmFingerprint", F::TextOrDefault},
    // Timers (xdrv_09_timers.ino)
    {"latitude", "Latitude"},
    {"longitude", "Longitude"},
    {"flag3/timers_enable", "Timers"},
    {"mbflag2/sunrise_dawn_angle", "Sunrise"},
    // File system
    {"mbflag2/FTP_Mode", "UfsFTP"},
    // Web server (xdrv_01_9_webserver.ino), Wi-Fi settings that need no restart
    {"cors_domain", "CORS", F::Text},
    {"dns_timeout", "DnsTimeout"},
    {"web_refresh", "WebRefresh"},
    {"webserver", "WebServer"},
    {"webcanvas|webcanvas32", "WebCanvas", F::Text},
    {"web_password", "WebPassword", F::Text, S::Settings, 0, 1, true},
    {"wifi_output_power", "WifiPower", F::Tenths},
    {"sbflag1/range_extender", "RgxState"},
    {"sbflag1/range_extender_napt", "RgxNAPT"},
    {"ipv4_rgx_address", "RgxAddress"},
    {"ipv4_rgx_subnetmask", "RgxSubnet"},
    {"rgx_ssid", "RgxSSId", F::Text},
    {"rgx_pwassword", "RgxPassword", F::Text, S::Settings, 0, 1, true},
    // Zigbee
    {"battery_level_percent", "BatteryPercentage"},
    // Webcam (ESP32)
    {"webcam_config/stream", "WCStream"},
    {"webcam_config/mirror", "WCMirror"},
    {"webcam_config/flip", "WCFlip"},
    {"webcam_config/rtsp", "WCRtsp"},
    {"webcam_config/contrast", "WCContrast", F::Number, S::Settings, -2},  // stored + 2 (-2..2 as 0..4)
    {"webcam_config/brightness", "WCBrightness", F::Number, S::Settings, -2},
    {"webcam_config/saturation", "WCSaturation", F::Number, S::Settings, -2},
    {"webcam_config/resolution", "WCResolution"},
    {"webcam_config/awb", "WCAWB"},
    {"webcam_config/awb_gain", "WCAWBGain"},
    {"webcam_config/aec", "WCAEC"},
    {"webcam_config/aec2", "WCAECDSP"},
    {"webcam_config/raw_gma", "WCGammaCorrect"},
    {"webcam_config/lenc", "WCLensCorrect"},
    {"webcam_config/colorbar", "WCColorbar"},
    {"webcam_config/wpc", "WCWPC"},
    {"webcam_config/dcw", "WCDCW"},
    {"webcam_config/bpc", "WCBPC"},
    {"webcam_config/feature", "WCFeature"},
    {"webcam_config2/wb_mode", "WCWBMode"},
    {"webcam_config2/ae_level", "WCAELevel"},
    {"webcam_config2/aec_value", "WCAECValue"},
    {"webcam_config2/gainceiling", "WCGainCeiling"},
    {"webcam_config2/agc_gain", "WCAGCGain"},
    {"webcam_config2/special_effect", "WCSpecialEffect"},
    {"webcam_config2/auth", "WCSAuth"},
    {"webcam_clk", "WcClock"},
    // After the hardware restart: addresses and Wi-Fi mode (the device connects with them next)
    {"ip_address", "IPAddress#", F::Number, S::Network},
    {"sta_config", "WifiConfig", F::Number, S::Network},
    {"eth_type", "EthType", F::Number, S::Network},
    {"eth_clk_mode", "EthClockMode", F::Number, S::Network},
    {"eth_address", "EthAddress", F::Number, S::Network},
    // At the very end: these can cut the device off from the broker or put it to sleep
    {"flag4/network_ethernet", "Ethernet", F::Number, S::Last},
    {"flag4/network_wifi", "Wifi", F::Number, S::Last},
    {"deepsleep", "DeepSleepTime", F::Number, S::Last},
};

std::optional<double> real_of(const ojson& v) {
  if (v.is_number()) return v.get<double>();
  if (auto i = integer_of(v)) return static_cast<double>(*i);
  return std::nullopt;
}

std::string value_text(const FieldCommand& c, const ojson& v) {
  switch (c.form) {
    case F::Text:
    case F::TextOrDefault:
    case F::TextIfAny: {
      std::string s = v.is_string() ? v.get<std::string>() : number_text(v);
      if (!s.empty()) return s;
      return c.form == F::Text ? "\"" : c.form == F::TextOrDefault ? "1" : std::string();
    }
    case F::Tenths:
    case F::Twentieths:
    case F::Hundredths: {
      auto d = real_of(v);
      if (!d) return {};
      if (c.form == F::Hundredths) return fmt::format("{}", *d / 100.0);
      if (c.form == F::Twentieths) return fmt::format("{:.2f}", *d / 20.0);  // exact: steps of 0.05
      return fmt::format("{:.1f}", *d / 10.0);
    }
    case F::Absolute: {
      auto i = integer_of(v);
      return i ? std::to_string(std::llabs(*i)) : std::string();
    }
    case F::Number:
      break;
  }
  if (c.add != 0) {
    auto i = integer_of(v);
    return i ? std::to_string(*i + c.add) : std::string();
  }
  return v.is_string() ? v.get<std::string>() : number_text(v);
}

std::string command_name(std::string name, std::uint32_t version, int index) {
  if (version < 0x08040000 && name.rfind("Dz", 0) == 0) name = "Domoticz" + name.substr(2);
  if (auto hash = name.find('#'); hash != std::string::npos) name.replace(hash, 1, std::to_string(index));
  return name;
}

std::string with_value(const std::string& command, const std::string& value) {
  if (auto at = command.find("{}"); at != std::string::npos) return command.substr(0, at) + value + command.substr(at + 2);
  return command + " " + value;
}

}  // namespace

std::span<const FieldCommand> field_commands() { return kTable; }

std::optional<std::int64_t> integer_of(const ojson& v) {
  if (v.is_number_unsigned()) return static_cast<std::int64_t>(v.get<std::uint64_t>());
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_number_float()) return static_cast<std::int64_t>(std::llround(v.get<double>()));
  if (!v.is_string()) return std::nullopt;
  auto s = v.get<std::string>();
  try {
    if (s.rfind("0x", 0) == 0) return static_cast<std::int64_t>(std::stoull(s.substr(2), nullptr, 16));
    if (s.rfind("0b", 0) == 0) return static_cast<std::int64_t>(std::stoull(s.substr(2), nullptr, 2));
  } catch (...) {
  }
  return std::nullopt;
}

std::string number_text(const ojson& v) {
  if (v.is_number_float()) return fmt::format("{}", v.get<double>());
  if (v.is_number()) return v.dump();
  if (v.is_string()) return v.get<std::string>();
  return {};
}

const ojson* find_field(const ojson& fields, std::string_view name) {
  while (!name.empty()) {
    auto bar = name.find('|');
    auto one = name.substr(0, bar);
    auto slash = one.find('/');
    const ojson* v = find_variant(fields, one.substr(0, slash));
    if (v && slash != std::string_view::npos) {
      auto member = std::string(one.substr(slash + 1));
      if (!v->is_object() || !v->contains(member)) v = nullptr;
      else v = &(*v)[member];
    }
    if (v && !v->is_null()) return v;
    if (bar == std::string_view::npos) break;
    name.remove_prefix(bar + 1);
  }
  return nullptr;
}

std::vector<std::string> field_command_values(const FieldCommand& c, const ojson& value, std::uint32_t version) {
  std::vector<std::string> out;
  auto one = [&](const ojson& v, int index) {
    auto text = value_text(c, v);
    if (text.empty() && (c.form == F::TextIfAny || !v.is_string())) return;
    out.push_back(with_value(command_name(c.command, version, index), text));
  };
  if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) one(value[i], static_cast<int>(i) + c.first);
  } else {
    // An array command with one stored value (PowerDelta before 8.x) is the command without an index.
    std::string bare = c.command;
    if (auto hash = bare.find('#'); hash != std::string::npos && hash + 1 == bare.size()) bare.erase(hash);
    FieldCommand single = c;
    single.command = bare.c_str();
    auto text = value_text(single, value);
    if (!text.empty() || (value.is_string() && c.form != F::TextIfAny)) out.push_back(with_value(command_name(bare, version, 1), text));
  }
  return out;
}

}  // namespace fleet::backup
