#include "backup/settings_commands.h"

#include <fmt/format.h>

#include <array>
#include <set>

#include "backup/field_commands.h"
#include "backup/setting_options.h"
#include "backup/settings_layouts.h"

namespace fleet::backup {
namespace {

using ojson = nlohmann::ordered_json;

// The commands of each stage, in the order they are sent.
struct Out {
  bool secrets = false;
  std::vector<std::string> settings, hardware, network, last;
  std::vector<std::string>& at(Stage s) {
    switch (s) {
      case Stage::Settings: return settings;
      case Stage::Hardware: return hardware;
      case Stage::Network: return network;
      case Stage::Last: return last;
    }
    return settings;
  }
};

const ojson* field(const ojson& f, std::string_view name) { return find_field(f, name); }

std::int64_t int_at(const ojson& f, std::string_view name, std::int64_t fallback = 0) {
  auto* v = field(f, name);
  if (!v) return fallback;
  return integer_of(*v).value_or(fallback);
}

std::string text_at(const ojson& f, std::string_view name) {
  auto* v = field(f, name);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

// The file's version (0x0F000100 for 15.0.1), as decode-config shows it.
std::uint32_t version_of(const ojson& f) { return static_cast<std::uint32_t>(int_at(f, "version")); }

// Tasmota clears a text setting with a lone double quote.
std::string clear_if_empty(const std::string& s) { return s.empty() ? "\"" : s; }
// Settings where an empty value means the firmware's default, restored with 1 (SC_DEFAULT).
std::string default_if_empty(const std::string& s) { return s.empty() ? "1" : s; }

// SetOption<n> for every flag bit that has no command of its own, and SetOption32-49 (param).
void setoptions(const ojson& f, Out& o) {
  for (const auto& b : setoption_bits()) {
    if (b.command || setoption_refused(b.number)) continue;  // named commands come from the field table
    auto* word = field(f, b.group);
    if (!word || !word->is_object() || !word->contains(b.name)) continue;
    auto value = integer_of((*word)[b.name]);
    if (!value) continue;
    // SetOption3 0 disables MQTT (and restarts): last, so the replay is not cut off midway.
    (b.number == 3 ? o.last : o.settings).push_back(fmt::format("SetOption{} {}", b.number, *value));
  }
  if (auto* param = field(f, "param"); param && param->is_array())
    for (std::size_t i = 0; i < param->size(); ++i)
      if (auto v = integer_of((*param)[i])) o.settings.push_back(fmt::format("SetOption{} {}", 32 + i, *v));
}

void table_fields(const ojson& f, Out& o) {
  auto version = version_of(f);
  for (const auto& c : field_commands()) {
    if (c.secret && !o.secrets) continue;
    if (auto* v = field(f, c.field))
      for (auto& cmd : field_command_values(c, *v, version)) o.at(c.stage).push_back(std::move(cmd));
  }
}

// The bits of a mask as "Name<first + i> 0/1" (LedPwmMode, I2CDriver, WebSensor, PowerLock).
void bits(std::vector<std::string>& out, const char* name, std::int64_t mask, int count, int first) {
  for (int i = 0; i < count; ++i) out.push_back(fmt::format("{}{} {}", name, first + i, (mask >> i) & 1));
}

std::string relay_list(std::int64_t mask) {
  std::string s;
  for (int i = 0; i < 32; ++i)
    if ((mask >> i) & 1) s += (s.empty() ? "" : ",") + std::to_string(i + 1);
  return s;
}

std::string hhmm(std::int64_t minutes) { return fmt::format("{:02}:{:02}", minutes / 60, minutes % 60); }

std::string timer_json(const ojson& t, std::uint32_t version) {
  auto get = [&](const char* k) { return t.contains(k) ? integer_of(t[k]).value_or(0) : 0; };
  auto mode = get("mode");
  auto time = get("time");
  std::string sign;
  if (mode > 0 && time > 12 * 60) {  // sunrise/sunset: minutes past 12:00 are a negative offset (xdrv_09_timers)
    sign = "-";
    time -= 12 * 60;
  }
  // A time of a day or more is none Tasmota stores (CmndTimer clamps to 23:59); decode-config's
  // strftime shows it modulo 24 h, and so does this.
  time %= 24 * 60;
  auto days = get("days");
  std::string d;
  for (int i = 0; i < 7; ++i) d += (days >> i) & 1 ? '1' : '0';  // Sunday first
  // "Arm" became "Enable" in 8.4.0 (Tasmota CHANGELOG 8.4.0: all timer references); older firmware
  // parses only "Arm". decode-config writes "Enable" for every version.
  const char* enable = version < 0x08040000 ? "Arm" : "Enable";
  return ojson{{enable, get("arm")},
               {"Mode", mode},
               {"Time", sign + hhmm(time)},
               {"Window", get("window")},
               {"Days", d},
               {"Repeat", get("repeat")},
               {"Output", get("device") + 1},
               {"Action", get("power")}}
      .dump();
}

void time_and_place(const ojson& f, Out& o) {
  // CmndTimezone: "Timezone -5:30" keeps the minutes; 99 (or anything from 15 on) selects the DST rules.
  if (auto* tz = field(f, "timezone")) {
    auto hours = integer_of(*tz).value_or(0);
    auto minutes = int_at(f, "timezone_minutes");
    o.settings.push_back(minutes == 0 ? fmt::format("Timezone {}", hours) : fmt::format("Timezone {}:{}", hours, minutes));
  }
  // CmndTimeStdDst: "TimeStd <hemisphere>,<week>,<month>,<day>,<hour>,<offset>".
  auto* tflag = field(f, "tflag");
  auto* toffset = field(f, "toffset");
  if (tflag && toffset && tflag->is_array() && toffset->is_array())
    for (std::size_t i = 0; i < 2 && i < tflag->size() && i < toffset->size(); ++i) {
      auto& r = (*tflag)[i];
      auto g = [&](const char* k) { return r.contains(k) ? integer_of(r[k]).value_or(0) : 0; };
      o.settings.push_back(fmt::format("{} {},{},{},{},{},{}", i == 0 ? "TimeSTD" : "TimeDST", g("hemis"), g("week"), g("month"), g("dow"),
                                       g("hour"), integer_of((*toffset)[i]).value_or(0)));
    }
}

void leds_and_web(const ojson& f, Out& o) {
  // CmndLedState takes 0..7; bit 3 of the stored value is the LED's own on/off state (CmndLedPower).
  if (auto* v = field(f, "ledstate")) o.settings.push_back(fmt::format("LedState {}", integer_of(*v).value_or(0) & 7));
  if (auto* v = field(f, "ledpwm_mask")) bits(o.settings, "LedPwmMode", integer_of(*v).value_or(0), 4, 1);
  // CmndWebColor takes #RRGGBB; colours 19 and 20 are kept apart (web_color2).
  for (auto [name, first] : {std::pair{"web_color", 1}, std::pair{"web_color2", 19}})
    if (auto* c = field(f, name); c && c->is_array())
      for (std::size_t i = 0; i < c->size(); ++i)
        if (auto rgb = integer_of((*c)[i])) o.settings.push_back(fmt::format("WebColor{} #{:06x}", first + i, *rgb & 0xFFFFFF));
  if (auto* d = field(f, "i2c_drivers"); d && d->is_array())
    for (std::size_t w = 0; w < d->size(); ++w) bits(o.settings, "I2CDriver", integer_of((*d)[w]).value_or(0), 32, static_cast<int>(w * 32));
  // Until 9.x the web sensors were one list of words (WebSensor<n>); decode-config shows no command later.
  if (auto* s = field(f, "sensors"); s && s->is_array() && !s->empty() && !(*s)[0].is_array())
    for (std::size_t w = 0; w < s->size(); ++w) bits(o.settings, "WebSensor", integer_of((*s)[w]).value_or(0), 32, static_cast<int>(w * 32));
  if (auto* p = field(f, "power_lock")) {
    auto mask = integer_of(*p).value_or(0) & 0xFFFFFFFF;
    if (mask == 0) o.settings.push_back("PowerLock0 0");  // PowerLock0 sets or clears all relays at once
    else if (mask == 0xFFFFFFFF) o.settings.push_back("PowerLock0 1");
    else bits(o.settings, "PowerLock", mask, 32, 1);
  }
  if (field(f, "device_group_share_in"))
    o.settings.push_back(fmt::format("DevGroupShare 0x{:08x},0x{:08x}", int_at(f, "device_group_share_in"), int_at(f, "device_group_share_out")));
  for (const char* name : {"mqtt_fingerprint1", "mqtt_fingerprint2"})
    if (auto* fp = field(f, name); fp && fp->is_array()) {
      std::string hex;
      for (auto& b : *fp) hex += fmt::format("{}{:02X}", hex.empty() ? "" : " ", integer_of(b).value_or(0));
      o.settings.push_back(fmt::format("MqttFingerprint{} {}", name[16], hex));
    }
  // CmndGlobalTemp2 / GlobalHum2 / GlobalPress2: which sensor feeds the global values (decode-config
  // has no command for them).
  if (auto* g = field(f, "global_sensor_index"); g && g->is_array())
    for (std::size_t i = 0; i < g->size() && i < 3; ++i)
      o.settings.push_back(fmt::format("{}2 {}", std::array{"GlobalTemp", "GlobalHum", "GlobalPress"}[i], integer_of((*g)[i]).value_or(0)));
  if (field(f, "web_time_start")) o.settings.push_back(fmt::format("WebTime {},{}", int_at(f, "web_time_start"), int_at(f, "web_time_end")));
}

void light(const ojson& f, Out& o) {
  if (auto* t = field(f, "rgbwwTable"); t && t->is_array()) {
    std::string s;
    for (auto& v : *t) s += (s.empty() ? "" : ",") + number_text(v);
    o.settings.push_back("RGBWWTable " + s);
  }
  if (field(f, "dimmer_hw_min")) o.settings.push_back(fmt::format("DimmerRange {},{}", int_at(f, "dimmer_hw_min"), int_at(f, "dimmer_hw_max")));
  if (field(f, "bri_preset_low")) o.settings.push_back(fmt::format("BriPreset {},{}", int_at(f, "bri_preset_low"), int_at(f, "bri_preset_high")));
  if (auto* order = field(f, "mbflag2/light_pixels_order")) {
    // PixelType: the colour order 0..7, +8 RGBW, +16 white sent first (Commands.md); decode-config shifts
    // the two flags the wrong way, so it always shows them as 0.
    auto v = (integer_of(*order).value_or(0) & 7) | (int_at(f, "mbflag2/light_pixels_rgbw") << 3) | (int_at(f, "mbflag2/light_pixels_w_first") << 4);
    o.settings.push_back(fmt::format("PixelType {}", v));
  }
  if (auto* tuya = field(f, "tuya_fnid_map"); tuya && tuya->is_array())
    for (auto& m : *tuya) {
      auto fn = m.contains("fnid") ? integer_of(m["fnid"]).value_or(0) : 0;
      auto dp = m.contains("dpid") ? integer_of(m["dpid"]).value_or(0) : 0;
      if (fn || dp) o.settings.push_back(fmt::format("TuyaMCU {},{}", fn, dp));
    }
}

void energy_and_sensors(const ojson& f, Out& o) {
  // CmndTariff: Tariff1 <std>,<dst> starts of the off-peak tariff, Tariff2 of the standard one (hh:mm).
  // From 12.4 (tariff_forced) the handler first reads the argument as a number: 0 (OFF) and 1 (ON)
  // force a tariff instead. "08:05" reads as 0 there (strtol, base 0: "08" is octal 0), so the first
  // time goes without a leading zero, and in minutes when its hour is 0 or 1 (a value from 24 on is
  // minutes); 00:00 to 00:23 cannot be given first there.
  bool forced = field(f, "mbflag2/tariff_forced") != nullptr;
  auto first_time = [&](std::int64_t minutes) {
    if (!forced) return hhmm(minutes);
    if (minutes / 60 >= 2 || minutes < 24) return fmt::format("{}:{:02}", minutes / 60, minutes % 60);
    return std::to_string(minutes);
  };
  if (auto* t = field(f, "tariff"); t && t->is_array() && !t->empty() && (*t)[0].is_array()) {
    for (std::size_t i = 0; i < (*t)[0].size() && i < t->size(); ++i) {
      auto& row = (*t)[i];
      if (row.size() >= 2)
        o.settings.push_back(fmt::format("Tariff{} {},{}", i + 1, first_time(integer_of(row[0]).value_or(0)), hhmm(integer_of(row[1]).value_or(0))));
    }
  }
  // Tariff<x> ON forces tariff x, OFF lets the clock choose (after the times: they end a forcing).
  if (forced) {
    auto t = int_at(f, "mbflag2/tariff_forced");
    o.settings.push_back(t == 1 || t == 2 ? fmt::format("Tariff{} ON", t) : std::string("Tariff1 OFF"));
  }
  for (int i = 1; i <= 2; ++i)
    if (field(f, fmt::format("tariff{}_0", i)))
      o.settings.push_back(fmt::format("Tariff{} {},{}", i, hhmm(int_at(f, fmt::format("tariff{}_0", i))), hhmm(int_at(f, fmt::format("tariff{}_1", i)))));
  if (o.secrets && field(f, "keeloq_master_msb"))
    o.settings.push_back(fmt::format("KeeloqSet {} {} {} {}", int_at(f, "keeloq_master_msb"), int_at(f, "keeloq_master_lsb"), int_at(f, "keeloq_serial"),
                                     int_at(f, "keeloq_count")));
  if (o.secrets && field(f, "pn532_password"))
    o.settings.push_back(fmt::format("Sensor40 AUTH,{},{}", int_at(f, "pn532_password"), int_at(f, "pn532_pack")));
  if (auto* ot = field(f, "ot_flags")) {
    static const char* names[] = {"CHOD", "DHW", "CH", "COOL", "OTC", "CH2"};
    std::string s;
    for (int i = 0; i < 6; ++i)
      if (integer_of(*ot).value_or(0) & (1 << i)) s += (s.empty() ? "" : ",") + std::string(names[i]);
    if (!s.empty()) o.settings.push_back("OT_Flags " + s);
  }
  // The OpenTherm setpoints take effect only with OT_Save_Setpoints after them.
  for (auto [name, cmd] : {std::pair{"ot_hot_water_setpoint", "OT_TWater"}, std::pair{"ot_boiler_setpoint", "OT_TBoiler"}})
    if (field(f, name)) {
      o.settings.push_back(fmt::format("{} {}", cmd, int_at(f, name)));
      o.settings.push_back("OT_Save_Setpoints");
    }
  // Sensor29: MCP230xx pin <pin>,<mode>,<pull-up>,<report mode>; IntRetain per pin.
  if (auto* mcp = field(f, "mcp230xx_config"); mcp && mcp->is_array()) {
    for (std::size_t pin = 0; pin < mcp->size(); ++pin) {
      auto& p = (*mcp)[pin];
      auto g = [&](const char* k) { return p.contains(k) ? integer_of(p[k]).value_or(0) : 0; };
      o.settings.push_back(fmt::format("Sensor29 {},{},{},{}", pin, g("pinmode"), g("pullup"), g("int_report_mode")));
    }
    for (std::size_t pin = 0; pin < mcp->size(); ++pin)
      if ((*mcp)[pin].contains("int_retain_flag"))
        o.settings.push_back(fmt::format("Sensor29 IntRetain,{},{}", pin, integer_of((*mcp)[pin]["int_retain_flag"]).value_or(0)));
  }
  if (auto* sf = field(f, "windmeter_speed_factor")) {
    if (auto v = integer_of(*sf)) o.settings.push_back(fmt::format("Sensor68 4,{}", static_cast<double>(*v) / 1000.0));
  }
  // CmndBaudrate / SBaudrate: the rate in bit/s. Tasmota keeps it / 300 from 6.6.0.9 (SetSerialBaudrate,
  // the u16 field), decode-config shows that u16 * 1200 (its 5.x byte's unit): the rate is a quarter of it.
  for (auto [name, cmd] : {std::pair{"baudrate", "Baudrate"}, std::pair{"sbaudrate", "SBaudrate"}})
    if (field(f, name)) o.settings.push_back(fmt::format("{} {}", cmd, version_of(f) >= 0x06060009 ? int_at(f, name) / 4 : int_at(f, name)));
  // The ADC of 6.x to 9.0 (Adc and AdcParam; GPIO17's function from 9.1). Forms as decode-config gives them.
  auto version = version_of(f);
  if (field(f, "my_adc0")) o.hardware.push_back(fmt::format("Adc {}", int_at(f, "my_adc0")));
  if (field(f, "adc_param_type") && field(f, "adc_param1")) {
    auto p1 = int_at(f, "adc_param1"), p2 = int_at(f, "adc_param2"), p3 = int_at(f, "adc_param3");
    if (version < 0x07010205) {
      o.network.push_back(fmt::format("AdcParam {},{},{},{}", int_at(f, "my_adc0"), p1, p2, static_cast<double>(p3) / 10000.0));
    } else if (version < 0x08010004) {
      auto q = p3 / 10000 - ((p3 % 10000 != 0 && p3 < 0) ? 1 : 0);  // Python's floor division
      o.network.push_back(fmt::format("AdcParam {},{},{},{}", int_at(f, "adc_param_type"), p1, p2, q));
    } else if (int_at(f, "my_adc0") == 6) {
      o.network.push_back(fmt::format("AdcParam {},{},{},{},{}", int_at(f, "my_adc0"), p1, p2, p3, int_at(f, "adc_param4")));
    } else {
      o.network.push_back(fmt::format("AdcParam {},{},{},{}", int_at(f, "my_adc0"), p1, p2, static_cast<double>(p3) / 10000.0));
    }
  }
  // Influx: Org/Token with InfluxDB 2, User/Password with 1.x (xdrv_59_influxdb).
  bool v2 = int_at(f, "influxdb_version") == 2;
  if (auto* org = field(f, "influxdb_org|influxdb_org32"); org && org->is_string())
    o.settings.push_back(fmt::format("Ifx{} {}", v2 ? "Org" : "User", clear_if_empty(org->get<std::string>())));
  if (o.secrets)
    if (auto* tok = field(f, "influxdb_token|influxdb_token32"); tok && tok->is_string())
      o.settings.push_back(fmt::format("Ifx{} {}", v2 ? "Token" : "Password", clear_if_empty(tok->get<std::string>())));
  // Serial formats as SerialConfig takes them ("8N1"); decode-config reads the stored index modulo 24.
  static const char* kSerial[] = {"5N1", "6N1", "7N1", "8N1", "5N2", "6N2", "7N2", "8N2", "5E1", "6E1", "7E1", "8E1",
                                  "5E2", "6E2", "7E2", "8E2", "5O1", "6O1", "7O1", "8O1", "5O2", "6O2", "7O2", "8O2"};
  for (auto [name, cmd] : {std::pair{"serial_config", "SerialConfig"}, std::pair{"sserial_config", "SSerialConfig"},
                           std::pair{"tcp_config", "TCPConfig"}, std::pair{"modbus_sconfig", "ModbusSerialConfig"}})
    if (field(f, name)) o.settings.push_back(fmt::format("{} {}", cmd, kSerial[int_at(f, name) % 24]));
  if (o.secrets && field(f, "zb_channel")) {
    ojson zb = {{"Channel", int_at(f, "zb_channel")},
                {"PanID", fmt::format("0x{:04X}", int_at(f, "zb_pan_id") & 0xFFFF)},
                {"ExtPanID", fmt::format("0x{:016X}", static_cast<std::uint64_t>(int_at(f, "zb_ext_panid")))},
                {"KeyL", fmt::format("0x{:016X}", static_cast<std::uint64_t>(int_at(f, "zb_precfgkey_l")))},
                {"KeyH", fmt::format("0x{:016X}", static_cast<std::uint64_t>(int_at(f, "zb_precfgkey_h")))},
                {"TxRadio", int_at(f, "zb_txradio_dbm")}};
    o.settings.push_back("ZbConfig " + zb.dump());
  }
}

void shutters(const ojson& f, Out& o) {
  auto& n = o.network;
  // Two-dimensional fields: [coefficient][shutter]; one command per shutter, its column.
  auto columns = [&](const char* name, const char* cmd, const char* sep) {
    auto* a = field(f, name);
    if (!a || !a->is_array() || a->empty() || !(*a)[0].is_array()) return;
    for (std::size_t k = 0; k < (*a)[0].size(); ++k) {
      std::string s;
      for (auto& row : *a) s += (s.empty() ? "" : sep) + (k < row.size() ? number_text(row[k]) : std::string("0"));
      n.push_back(fmt::format("{}{} {}", cmd, k + 1, s));
    }
  };
  if (auto* a = field(f, "shuttercoeff"); a && a->is_array() && !a->empty() && (*a)[0].is_array())
    for (std::size_t k = 0; k < (*a)[0].size(); ++k) {
      if (integer_of((*a)[0][k]).value_or(0) == 0) continue;  // not calibrated: the halfway point below
      std::string s;
      for (auto& row : *a) s += (s.empty() ? "" : ",") + (k < row.size() ? number_text(row[k]) : std::string("0"));
      n.push_back(fmt::format("ShutterCalibration{} {}", k + 1, s));
    }
  columns("shutter_pwmrange", "ShutterPWMRange", " ");
  columns("shutter_tilt_config", "ShutterTiltConfig", ",");
  if (auto* opt = field(f, "shutter_options"); opt && opt->is_array())
    for (std::size_t i = 0; i < opt->size(); ++i) {
      auto v = integer_of((*opt)[i]).value_or(0);
      n.push_back(fmt::format("ShutterInvert{} {}", i + 1, v & 1));
      n.push_back(fmt::format("ShutterLock{} {}", i + 1, (v >> 1) & 1));
      n.push_back(fmt::format("ShutterEnableEndStopTime{} {}", i + 1, (v >> 2) & 1));
      n.push_back(fmt::format("ShutterInvertWebButtons{} {}", i + 1, (v >> 3) & 1));
    }
  // CmndShutterCalibration stores the measured values scaled to the last (1000) and sets the halfway
  // point to 50; CmndShutterSetHalfway clears the first coefficient. A shutter has one or the other:
  // the calibration when its first coefficient is set, else the halfway point. SetHalfway takes the
  // position as shown (100 - stored for an inverted shutter). decode-config sends both, raw.
  auto* coeff = field(f, "shuttercoeff");
  auto* half = field(f, "shutter_set50percent");
  auto* opt = field(f, "shutter_options");
  if (half && half->is_array())
    for (std::size_t k = 0; k < half->size(); ++k) {
      bool calibrated = coeff && coeff->is_array() && !coeff->empty() && (*coeff)[0].is_array() && k < (*coeff)[0].size() &&
                        integer_of((*coeff)[0][k]).value_or(0) != 0;
      if (calibrated) continue;
      auto v = integer_of((*half)[k]).value_or(0);
      bool inverted = opt && opt->is_array() && k < opt->size() && (integer_of((*opt)[k]).value_or(0) & 1);
      n.push_back(fmt::format("ShutterSetHalfway{} {}", k + 1, inverted ? 100 - v : v));
    }
  // ShutterButton<shutter> <button> <single> <double> <triple> <hold> <mqtt single> … <mqtt all>: the
  // positions as CmndShutterButton takes them ("-" none, 102 toggle); decoded so already (decode-config's
  // JSON), where its command lambda writes the stored 6-bit codes instead.
  if (auto* b = field(f, "shutter_button"); b && b->is_array())
    for (std::size_t i = 0; i < b->size(); ++i) {
      auto& x = (*b)[i];
      auto g = [&](const char* k) { return x.contains(k) ? number_text(x[k]) : std::string("0"); };
      n.push_back(fmt::format("ShutterButton{} {} {} {} {} {} {} {} {} {} {}", g("shutter"), i + 1, g("press_single"), g("press_double"),
                              g("press_triple"), g("press_hold"), g("mqtt_broadcast_single"), g("mqtt_broadcast_double"),
                              g("mqtt_broadcast_triple"), g("mqtt_broadcast_hold"), g("mqtt_broadcast_all")));
    }
}

void rules_and_timers(const ojson& f, Out& o) {
  auto version = version_of(f);
  if (auto* rules = field(f, "rules"); rules && rules->is_array()) {
    auto bit = [&](const char* name, std::size_t i) { return int_at(f, fmt::format("{}/rule{}", name, i + 1)); };
    for (std::size_t i = 0; i < rules->size() && i < 3; ++i) {
      if (!(*rules)[i].is_string()) continue;  // compressed and not decoded: cannot be replayed
      o.settings.push_back(fmt::format("Rule{} {}", i + 1, clear_if_empty((*rules)[i].get<std::string>())));
      // CmndRule: 0/1 enable, 4/5 once, 8/9 stop on error (xdrv_10_rules.ino).
      if (field(f, "rule_enabled")) o.settings.push_back(fmt::format("Rule{} {}", i + 1, bit("rule_enabled", i) ? 1 : 0));
      if (field(f, "rule_once")) o.settings.push_back(fmt::format("Rule{} {}", i + 1, bit("rule_once", i) ? 5 : 4));
      if (field(f, "rule_stop")) o.settings.push_back(fmt::format("Rule{} {}", i + 1, bit("rule_stop", i) ? 9 : 8));
    }
  }
  // Timer outputs name relays of the module: after the hardware (CmndTimer keeps Output only below
  // the number of relays present).
  if (auto* timers = field(f, "timer"); timers && timers->is_array())
    for (std::size_t i = 0; i < timers->size(); ++i)
      if ((*timers)[i].is_object()) o.network.push_back(fmt::format("Timer{} {}", i + 1, timer_json((*timers)[i], version)));
  // CmndInterlock: "Interlock 0/1" switches it; "Interlock 1,2 3,4" sets the groups. Groups need the
  // module's relays (max_relays): after the hardware.
  if (auto* flag = field(f, "flag/interlock")) o.network.push_back(fmt::format("Interlock {}", integer_of(*flag).value_or(0)));
  // An empty group between others keeps its place with "0" (no relay: CmndInterlock skips relay 0 and
  // clears a group of fewer than two), as strtok would drop an empty one and move the rest up.
  if (auto* groups = field(f, "interlock_esp32|interlock"); groups && groups->is_array()) {
    std::vector<std::string> lists;
    for (auto& g : *groups) lists.push_back(relay_list(integer_of(g).value_or(0)));
    while (!lists.empty() && lists.back().empty()) lists.pop_back();
    std::string s;
    for (auto& l : lists) s += (s.empty() ? "" : " ") + (l.empty() ? std::string("0") : l);
    if (!s.empty()) o.network.push_back("Interlock " + s);
  }
}

void hardware(const ojson& f, Out& o) {
  auto& h = o.hardware;
  // ESP32 variants keep some of these under suffixed names (field_variants).
  if (auto* t = find_variant(f, "user_template"); t && t->is_object()) {
    std::string name;
    if (auto* tn = field(f, "templatename"); tn && tn->is_string()) name = tn->get<std::string>();
    else if (t->contains("name") && (*t)["name"].is_string()) name = (*t)["name"].get<std::string>();
    auto* g = find_variant(*t, "gpio");
    ojson gpio = g ? *g : ojson::array();
    auto* fl = find_variant(*t, "flag");
    ojson flag = fl ? (fl->is_object() ? fl->value("adc0", ojson(0)) : *fl) : ojson(0);
    auto* b = find_variant(*t, "base");
    h.push_back("Template " + ojson{{"NAME", name}, {"GPIO", gpio}, {"FLAG", flag}, {"BASE", b ? *b : ojson(18)}}.dump());
  }
  // CmndModule takes ModuleNr: the stored index + 1, the user template (255) as 0.
  if (auto* m = find_variant(f, "module"); m && m->is_number_integer()) h.push_back(fmt::format("Module {}", (m->get<int>() + 1) & 0xFF));
  if (auto* m = field(f, "fallback_module")) h.push_back(fmt::format("Module2 {}", (integer_of(*m).value_or(0) + 1) & 0xFF));
  // ESP8266 files also list decode-config's my_gp_esp32 alias of my_gp: the plain name wins there.
  auto* gp = f.contains("my_gp") ? &f["my_gp"] : find_variant(f, "my_gp");
  if (gp && gp->is_array())
    for (std::size_t i = 0; i < gp->size(); ++i)
      if (auto v = integer_of((*gp)[i])) h.push_back(fmt::format("GPIO{} {}", i, *v));
}

void network(const ojson& f, Out& o) {
  auto& m = o.network;
  // Eth addresses (ESP32): IP, gateway, mask, DNS 1 and 2.
  if (auto* e = field(f, "eth_ipv4_address"); e && e->is_array()) {
    static const char* names[] = {"EthIPAddress", "EthGateway", "EthSubnetmask", "EthDNSServer", "EthDNSServer2"};
    for (std::size_t i = 0; i < e->size() && i < 5; ++i)
      if ((*e)[i].is_string()) m.push_back(fmt::format("{} {}", names[i], (*e)[i].get<std::string>()));
  }
  // CmndGroupTopic: up to four from 8.3.0 (GroupTopic1..4), one before; `"` clears (the rest move up).
  if (f.contains("mqtt_grptopic2")) {
    m.push_back("GroupTopic1 " + clear_if_empty(text_at(f, "mqtt_grptopic")));
    if (auto* g = field(f, "mqtt_grptopic2"); g && g->is_array())
      for (std::size_t i = 0; i < g->size(); ++i)
        if ((*g)[i].is_string()) m.push_back(fmt::format("GroupTopic{} {}", i + 2, clear_if_empty((*g)[i].get<std::string>())));
  } else if (field(f, "mqtt_grptopic")) {
    m.push_back("GroupTopic " + default_if_empty(text_at(f, "mqtt_grptopic")));
  }
  if (field(f, "mqtt_fulltopic")) m.push_back("FullTopic " + default_if_empty(text_at(f, "mqtt_fulltopic")));
  // CmndPrefix cannot store an empty prefix (it would be a query): an empty one stays as it is.
  if (auto* p = field(f, "mqtt_prefix"); p && p->is_array())
    for (std::size_t i = 0; i < p->size() && i < 3; ++i)
      if ((*p)[i].is_string() && !(*p)[i].get<std::string>().empty()) m.push_back(fmt::format("Prefix{} {}", i + 1, (*p)[i].get<std::string>()));
  if (field(f, "mqtt_host")) m.push_back("MqttHost " + clear_if_empty(text_at(f, "mqtt_host")));
  if (auto* p = field(f, "mqtt_port")) m.push_back("MqttPort " + number_text(*p));
  if (field(f, "mqtt_user")) m.push_back("MqttUser " + clear_if_empty(text_at(f, "mqtt_user")));
  if (o.secrets && field(f, "mqtt_pwd")) m.push_back("MqttPassword " + clear_if_empty(text_at(f, "mqtt_pwd")));
  if (field(f, "mqtt_client")) m.push_back("MqttClient " + default_if_empty(text_at(f, "mqtt_client")));
  if (field(f, "hostname")) m.push_back("Hostname " + default_if_empty(text_at(f, "hostname")));
  // CmndSsid and CmndPassword select that AP (sta_active = index - 1): AP after them picks the one the
  // device used. CmndAp: AP 1/2 selects, AP 0 toggles; decode-config writes the stored 0/1 instead.
  auto* ssid = field(f, "sta_ssid");
  auto* pwd = field(f, "sta_pwd");
  if (ssid && ssid->is_array())
    for (std::size_t i = 0; i < ssid->size() && i < 2; ++i) {
      if ((*ssid)[i].is_string()) m.push_back(fmt::format("SSId{} {}", i + 1, clear_if_empty((*ssid)[i].get<std::string>())));
      if (o.secrets && pwd && pwd->is_array() && i < pwd->size() && (*pwd)[i].is_string())
        m.push_back(fmt::format("Password{} {}", i + 1, clear_if_empty((*pwd)[i].get<std::string>())));
    }
  if (auto* ap = field(f, "sta_active")) m.push_back(fmt::format("AP {}", (integer_of(*ap).value_or(0) & 1) + 1));
}

}  // namespace

std::vector<CommandGroup> settings_commands(const ojson& f, const CommandOptions& options) {
  Out o;
  o.secrets = options.with_secrets;
  setoptions(f, o);
  table_fields(f, o);
  time_and_place(f, o);
  leds_and_web(f, o);
  light(f, o);
  energy_and_sensors(f, o);
  rules_and_timers(f, o);
  shutters(f, o);
  hardware(f, o);
  network(f, o);

  CommandGroup settings{"settings", false, std::move(o.settings)};
  CommandGroup hw{"hardware", true, std::move(o.hardware)};
  CommandGroup mqtt{"mqtt", true, std::move(o.network)};
  for (auto& c : o.last) mqtt.commands.push_back(std::move(c));
  if (field(f, "mqtt_topic")) mqtt.commands.push_back("Topic " + default_if_empty(text_at(f, "mqtt_topic")));  // last: the device answers there
  std::vector<CommandGroup> out;
  for (auto* g : {&settings, &hw, &mqtt})
    if (!g->commands.empty()) out.push_back(std::move(*g));
  return out;
}

std::vector<OutgoingCommand> pack_backlog(const std::vector<std::string>& commands, std::size_t max_commands, std::size_t max_chars) {
  std::vector<OutgoingCommand> out;
  std::vector<std::string> batch;
  std::size_t chars = 0;
  auto flush = [&] {
    if (batch.empty()) return;
    if (batch.size() == 1) {
      auto sp = batch[0].find(' ');
      out.push_back({batch[0].substr(0, sp), sp == std::string::npos ? "" : batch[0].substr(sp + 1)});
    } else {
      std::string payload;
      for (auto& c : batch) payload += (payload.empty() ? "" : "; ") + c;
      out.push_back({"Backlog", payload});
    }
    batch.clear();
    chars = 0;
  };
  for (const auto& c : commands) {
    bool alone = c.find(';') != std::string::npos || c.find('\n') != std::string::npos || c.size() > max_chars;
    if (alone) {
      flush();
      auto sp = c.find(' ');
      out.push_back({c.substr(0, sp), sp == std::string::npos ? "" : c.substr(sp + 1)});
      continue;
    }
    if (batch.size() >= max_commands || chars + c.size() + 2 > max_chars) flush();
    batch.push_back(c);
    chars += c.size() + 2;
  }
  flush();
  return out;
}

}  // namespace fleet::backup
