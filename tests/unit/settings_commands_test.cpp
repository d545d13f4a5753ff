// The command export against decode-config's: for every vector of tests/data/dmp/ (settings files
// with every field random, 6.7.1 to 15.0.1, ESP8266 and the ESP32 family), every command decode-config
// v15.0.1.3 prints (`-T cmnd`, NAME.cmnd.txt) is one of ours with the same value, except the commands
// listed below as not sent and the decode-config forms that Tasmota's command code reads otherwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "backup/dmp_file.h"
#include "backup/settings_commands.h"
#include "backup/settings_layouts.h"

using namespace fleet::backup;
using nlohmann::json;

namespace {

std::string data_path(const std::string& name) { return std::string(FLEET_TEST_DATA) + "/dmp/" + name; }

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

struct Command {
  std::string name;   // upper case, as Tasmota matches it (CommandHandler upper-cases the topic)
  std::string value;  // trimmed
};

// "Name value" → {NAME, value}; decode-config's "SO<n>" is Tasmota's alias of SetOption<n> (8.3.0).
Command split(const std::string& line) {
  auto sp = line.find(' ');
  Command c{upper(line.substr(0, sp)), sp == std::string::npos ? std::string() : trim(line.substr(sp + 1))};
  if (std::regex_match(c.name, std::regex("SO[0-9]+"))) c.name = "SETOPTION" + c.name.substr(2);
  return c;
}

// decode-config's command file: commands two-space indented under "# Group:" lines. A "Backlog a;b"
// of it is the commands a and b.
std::vector<Command> read_decode_config(const std::string& name) {
  std::ifstream in(data_path(name));
  EXPECT_TRUE(in) << "missing " << data_path(name);
  std::vector<Command> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("  ", 0) != 0) continue;
    auto c = split(line.substr(2));
    if (c.name == "BACKLOG") {
      std::stringstream parts(c.value);
      std::string part;
      while (std::getline(parts, part, ';')) out.push_back(split(trim(part)));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Commands decode-config prints that the export does not send, and why.
bool not_sent(const std::string& name) {
  static const std::regex kState(
      // Power<n>: the relays' state, not a setting (and sending it switches the load).
      "POWER[0-9]+"
      // ShutterPosition<n>: moves the shutter there; the position is state.
      "|SHUTTERPOSITION[0-9]+"
      // Counter<n>: pulse counter readings; EnergyToday/Yesterday/Total/ExportActive<n>, EnergyReset<n>:
      // meter readings. State: replaying them would roll the counters back to the time of the backup.
      "|COUNTER[0-9]+|ENERGYTODAY[0-9]*|ENERGYYESTERDAY[0-9]*|ENERGYTOTAL[0-9]*|ENERGYEXPORTACTIVE[0-9]*|ENERGYRESET[0-9]+"
      // SetOption22/23 (mqtt_serial, mqtt_serial_raw): CmndSetoptionBase answers Error for them; only
      // SerialSend/SerialLog set them, as a side effect of sending or logging.
      "|SETOPTION22|SETOPTION23"
      // FrequencySet, PowerSet2, VoltageSet2, CurrentSet2: decode-config gives them the stored
      // calibration, but XxxSet takes a measured target (W, V, mA, Hz) from which the energy driver
      // computes the calibration (xdrv_03_energy.ino, EnergyCommandSetCalResponse): sent back, the
      // calibration would be computed from a number that is no reading. The second channel's XxxCal2
      // is no way either: on a device that is not two-phase, EnergySetCalibration writes channel 1's
      // calibration with it (channel 2 only when phase_count is 2), which a backup cannot tell.
      "|FREQUENCYSET|POWERSET2|VOLTAGESET2|CURRENTSET2");
  return std::regex_match(name, kState);
}

bool is_number(const std::string& s, double& d) {
  if (s.empty()) return false;
  char* end = nullptr;
  d = std::strtod(s.c_str(), &end);
  return end && *end == '\0';
}

// Equal values: the same text, or the same numbers ("55.0" is Python's 55), token by token across
// "," and " "; hexadecimal texts in either case.
bool same_value(const std::string& a, const std::string& b) {
  if (a == b) return true;
  auto tokens = [](const std::string& s) {
    std::vector<std::string> t;
    std::string cur;
    for (char c : s) {
      if (c == ',' || c == ' ') {
        t.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    t.push_back(cur);
    return t;
  };
  auto ta = tokens(a), tb = tokens(b);
  if (ta.size() != tb.size()) return false;
  for (std::size_t i = 0; i < ta.size(); ++i) {
    if (ta[i] == tb[i]) continue;
    double x = 0, y = 0;
    if (is_number(ta[i], x) && is_number(tb[i], y) && std::abs(x - y) < 1e-6 * std::max(1.0, std::abs(x))) continue;
    if ((ta[i].rfind("0x", 0) == 0 || ta[i].rfind("#", 0) == 0) && upper(ta[i]) == upper(tb[i])) continue;
    return false;
  }
  return true;
}

// A JSON argument compares parsed: every member decode-config gives, ours the same (hex texts in either case).
bool same_json(const json& theirs, const json& ours) {
  if (theirs.is_object()) {
    if (!ours.is_object()) return false;
    for (auto& [k, v] : theirs.items())
      if (!ours.contains(k) || !same_json(v, ours[k])) return false;
    return true;
  }
  if (theirs.is_array()) {
    if (!ours.is_array() || ours.size() != theirs.size()) return false;
    for (std::size_t i = 0; i < theirs.size(); ++i)
      if (!same_json(theirs[i], ours[i])) return false;
    return true;
  }
  if (theirs.is_string() && ours.is_string()) return upper(theirs.get<std::string>()) == upper(ours.get<std::string>());
  return theirs == ours;
}

// Interlock groups as relay sets, relays 1-8 only: decode-config shows no relay above 8 (its lambda
// reads bits 0-7); Tasmota keeps up to 32 (CmndInterlock, max_relays). Empty groups are none.
std::vector<std::string> interlock_groups(const std::string& v, bool only_first_eight) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  std::string group;
  while (ss >> group) {
    std::stringstream gs(group);
    std::string relay, kept;
    while (std::getline(gs, relay, ','))
      if (!relay.empty() && (!only_first_eight || std::stoi(relay) <= 8)) kept += (kept.empty() ? "" : ",") + relay;
    if (!kept.empty()) out.push_back(kept);
  }
  return out;
}

struct Vector {
  const char* name;
};

class SettingsCommandsVectors : public ::testing::TestWithParam<Vector> {};

TEST_P(SettingsCommandsVectors, EveryCommandDecodeConfigPrintsIsOursWithTheSameValue) {
  auto name = std::string(GetParam().name);
  std::ifstream file(data_path(name + ".dmp"), std::ios::binary);
  std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  auto read = read_dmp(bytes);
  ASSERT_TRUE(read.file) << read.error;
  auto fields = SettingsLayouts::builtin().decode(*read.file).fields;
  auto version = read.file->version_id();

  std::vector<Command> ours;
  for (auto& g : settings_commands(fields, CommandOptions{true}))
    for (auto& c : g.commands) ours.push_back(split(c));
  // Ours, by name: the values not matched yet.
  std::multimap<std::string, std::string> open;
  for (auto& c : ours) open.emplace(c.name, c.value);
  auto take = [&](const std::string& n, auto&& matches) {
    auto [b, e] = open.equal_range(n);
    for (auto it = b; it != e; ++it)
      if (matches(it->second)) {
        open.erase(it);
        return true;
      }
    return false;
  };

  std::vector<Command> theirs = read_decode_config(name + ".cmnd.txt");
  // decode-config's Template is one JSON object split over several commands before 9.1: one object here.
  json templ = json::object();
  std::erase_if(theirs, [&](const Command& c) {
    if (c.name != "TEMPLATE") return false;
    auto part = json::parse(c.value);
    for (auto& [k, v] : part.items()) templ[k] = v;
    return true;
  });

  std::map<std::string, std::string> their;  // a value per name, for the rules that look at another command
  for (auto& c : theirs) their.emplace(c.name, c.value);
  auto index_of = [](const std::string& n) {
    auto d = n.find_first_of("0123456789");
    return d == std::string::npos ? std::string() : n.substr(d);
  };

  std::vector<std::string> diffs;
  int compared = 0, queries = 0, excluded = 0;
  // decode-config prints Module and Gpio<n> once per field variant that overlays them (module and
  // module_esp32s3; my_gp and its 40-GPIO my_gp_esp32 alias on ESP8266, my_gp_esp32 and my_gp_esp32c2
  // …): ours is one of its values; a Gpio<n> beyond the chip's (an ESP8266 has GPIO0-17 in my_gp) is
  // the alias reading other fields. Its plain "module" lambda writes the stored index, CmndModule takes
  // ModuleNr (the index + 1, the user template as 0).
  std::map<std::string, std::vector<std::string>> variants;
  std::erase_if(theirs, [&](const Command& c) {
    if (c.name != "MODULE" && !std::regex_match(c.name, std::regex("GPIO[0-9]+"))) return false;
    variants[c.name].push_back(c.value);
    return true;
  });
  int our_gpios = static_cast<int>(std::count_if(ours.begin(), ours.end(), [](const Command& c) { return std::regex_match(c.name, std::regex("GPIO[0-9]+")); }));
  for (auto& [n, values] : variants) {
    if (!open.count(n) && n != "MODULE" && our_gpios > 0 && std::stoi(n.substr(4)) >= our_gpios) {
      excluded += static_cast<int>(values.size());
      continue;
    }
    ++compared;
    excluded += static_cast<int>(values.size()) - 1;
    bool ok = take(n, [&](const std::string& v) {
      for (auto& t : values)
        if (same_value(t, v) || (n == "MODULE" && std::stoi(v) == ((std::stoi(t) + 1) & 0xFF))) return true;
      return false;
    });
    if (!ok) diffs.push_back(n + " one of decode-config's values -> ours: " + (open.count(n) ? open.find(n)->second : std::string("none")));
  }
  for (auto& c : theirs) {
    // decode-config spells the energy safe-power commands SavePower*; Tasmota's are SafePower*
    // (xdrv_03_energy.ino, kEnergyCommands D_CMND_SAFEPOWER…).
    if (c.name.rfind("SAVEPOWER", 0) == 0) c.name = "SAFEPOWER" + c.name.substr(9);
    if (not_sent(c.name)) {
      ++excluded;
      continue;
    }
    // An empty argument is a query in Tasmota (CommandHandler: data_len 0), it sets nothing: ours is
    // the clearing `"`, the default `1`, or nothing where Tasmota cannot store an empty value.
    if (c.value.empty()) {
      ++queries;
      take(c.name, [](const std::string& v) { return v == "\"" || v == "1"; });
      continue;
    }
    ++compared;
    bool ok = false;
    if (c.name.rfind("TIMER", 0) == 0 && c.name != "TIMERS") {
      auto t = json::parse(c.value);
      ok = take(c.name, [&](const std::string& v) {
        auto o = json::parse(v);
        // Before 8.4.0 CmndTimer parses "Arm" (renamed "Enable" in 8.4.0); decode-config writes "Enable".
        if (version < 0x08040000 && o.contains("Arm")) o["Enable"] = o["Arm"];
        return same_json(t, o);
      });
    } else if (c.name == "ZBCONFIG") {
      ok = take(c.name, [&](const std::string& v) { return same_json(json::parse(c.value), json::parse(v)); });
    } else if (c.name == "INTERLOCK" && c.value.find(',') != std::string::npos) {
      ok = take(c.name, [&](const std::string& v) { return interlock_groups(c.value, true) == interlock_groups(v, true); });
    } else if (c.name == "PIXELTYPE") {
      // decode-config shifts the white-first and RGBW flags right (always 0): compare the colour order.
      ok = take(c.name, [&](const std::string& v) { return std::stoi(v) % 8 == std::stoi(c.value); });
    } else if (c.name.rfind("SHUTTERBUTTON", 0) == 0) {
      // decode-config's lambda writes the stored 6-bit position codes; CmndShutterButton takes the
      // positions: code 0 is "-" (none), else (code - 1) * 2 (102 is toggle).
      std::stringstream ss(c.value);
      std::string tok, want;
      for (int i = 0; ss >> tok; ++i) {
        if (i >= 1 && i <= 4) tok = tok == "0" ? "-" : std::to_string((std::stoi(tok) - 1) << 1);
        want += (want.empty() ? "" : " ") + tok;
      }
      ok = take(c.name, [&](const std::string& v) { return v == want; });
    } else if (c.name.rfind("SHUTTERCALIBRATION", 0) == 0 || c.name.rfind("SHUTTERSETHALFWAY", 0) == 0) {
      // CmndShutterCalibration sets the halfway point to 50, CmndShutterSetHalfway clears the first
      // coefficient: ours sends the calibration of a calibrated shutter, else the halfway point, which
      // Tasmota stores inverted (100 - x) for an inverted shutter (ShutterInvert).
      auto k = index_of(c.name);
      auto cal = their["SHUTTERCALIBRATION" + k];
      bool calibrated = !cal.empty() && cal.substr(0, cal.find(',')) != "0";
      if (c.name.rfind("SHUTTERCALIBRATION", 0) == 0 ? !calibrated : calibrated) {
        --compared;
        ++excluded;
        ok = !open.count(c.name);
      } else if (c.name.rfind("SHUTTERCALIBRATION", 0) == 0) {
        ok = take(c.name, [&](const std::string& v) { return same_value(c.value, v); });
      } else {
        bool inverted = their["SHUTTERINVERT" + k] == "1";
        int want = inverted ? 100 - std::stoi(c.value) : std::stoi(c.value);
        ok = take(c.name, [&](const std::string& v) { return std::stoi(v) == want; });
      }
    } else if (c.name.rfind("SHUTTERMOTORDELAY", 0) == 0) {
      // Ours has the two decimals the 1/20 s steps need; decode-config rounds to one.
      ok = take(c.name, [&](const std::string& v) { return std::abs(std::stod(v) - std::stod(c.value)) <= 0.05 + 1e-9; });
    } else if (c.name == "SENSOR116") {
      // decode-config reads the float ms5837_pressure_offset as an integer (dmp_vectors_test.cpp).
      ok = take(c.name, [&](const std::string& v) { return static_cast<long>(std::stod(v)) == std::stol(c.value); });
    } else if ((c.name == "BAUDRATE" || c.name == "SBAUDRATE") && version >= 0x06060009) {
      // Since 6.6.0.9 Tasmota keeps baudrate / 300 (support.ino, SetSerialBaudrate); decode-config
      // still multiplies by 1200, the factor of the older one-byte field.
      ok = take(c.name, [&](const std::string& v) { return std::stoll(v) * 4 == std::stoll(c.value); });
    } else if (c.name == "AP") {
      // CmndAp: AP 1/2 select the first/second AP, AP 0 toggles; decode-config writes the stored 0/1.
      ok = take(c.name, [&](const std::string& v) { return std::stoi(v) == (std::stoi(c.value) & 1) + 1; });
    } else {
      ok = take(c.name, [&](const std::string& v) { return same_value(c.value, v); });
    }
    if (!ok) {
      std::string have;
      auto [b, e] = open.equal_range(c.name);
      for (auto it = b; it != e; ++it) have += " '" + it->second + "'";
      diffs.push_back(c.name + " " + c.value + " -> ours:" + (have.empty() ? " none" : have));
    }
  }
  if (!templ.empty()) {
    ++compared;
    bool ok = take("TEMPLATE", [&](const std::string& v) { return same_json(templ, json::parse(v)); });
    if (!ok) diffs.push_back("TEMPLATE " + templ.dump());
  }
  RecordProperty("compared", compared);
  RecordProperty("queries", queries);
  RecordProperty("excluded", excluded);
  for (std::size_t i = 0; i < diffs.size() && i < 60; ++i) ADD_FAILURE() << name << ": " << diffs[i];
  EXPECT_EQ(0u, diffs.size()) << name << ": " << diffs.size() << " of " << compared << " commands differ";
  EXPECT_GT(compared, 400) << name;
}

INSTANTIATE_TEST_SUITE_P(
    Vectors, SettingsCommandsVectors,
    ::testing::Values(Vector{"random-6.7.1"}, Vector{"random-7.2.0"}, Vector{"random-8.1.0"}, Vector{"random-8.5.1"}, Vector{"random-9.1.0"},
                      Vector{"random-9.5.0"}, Vector{"random-9.5.0-esp32"}, Vector{"random-10.1.0"}, Vector{"random-11.1.0"},
                      Vector{"random-12.5.0"}, Vector{"random-12.5.0-esp32"}, Vector{"random-13.4.0"}, Vector{"random-14.2.0"},
                      Vector{"random-14.2.0-esp32c3"}, Vector{"random-14.2.0-esp32s2"}, Vector{"random-14.2.0-esp32s3"},
                      Vector{"random-15.0.1"}, Vector{"random-15.0.1-esp32"}, Vector{"random-15.0.1-esp32c2"},
                      Vector{"random-15.0.1-esp32c6"}, Vector{"random-15.0.1-esp32p4"}),
    [](const ::testing::TestParamInfo<Vector>& i) {
      std::string n = i.param.name;
      for (auto& c : n)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

}  // namespace

// ---------------------------------------------------------------------------------------------------
// The replay on the simulator: a device given a settings file, then Reset 6, then the exported
// commands, holds the same settings again. The vectors' values are random and many are outside what
// Tasmota's commands accept; so the file given first is what a device holds after a replay of the
// vector's commands (the vector as far as Tasmota takes it), with the vector's own values in every
// field no command sets. Then: every other field must come back after Reset 6 and the replay, and every
// field of the list must not (the list is no longer than it must be).
// ---------------------------------------------------------------------------------------------------

#include "backup/settings_migration.h"
#include "sim/sim_device.h"

namespace {

using fleet::sim::SimDevice;
using ojson = nlohmann::ordered_json;
constexpr std::int64_t kNow = 1'790'000'000'000;

// Fields no command sets, with the reason; "*" stands for any array index. `empty_only`: only an empty
// text, which no command can store.
struct NotSet {
  const char* field;
  const char* why;
  // Always; only an empty text; only a whole word (not an object of bits); only some values (where a
  // command sets the field for others, it is compared there).
  enum When { Always, EmptyText, NotAnObject, Sometimes } when = Always;
};
const std::vector<NotSet>& not_set_by_commands() {
  static const std::vector<NotSet> v = {
      // The file's own bookkeeping, written by every save.
      {"cfg_holder", "the file's marker"}, {"cfg_size", "the file's size"}, {"cfg_crc", "checksum"}, {"cfg_crc32", "checksum"},
      {"cfg_timestamp", "time of the last save"}, {"save_flag", "save counter"}, {"version", "the firmware's version"},
      {"config_version", "the chip"}, {"bootcount", "boot counter"}, {"bootcount_reset_time", "when the boot counter was reset"},
      // State, not settings: not sent (see not_sent above).
      {"power", "the relays' state"}, {"power_esp32", "the relays' state"}, {"shutter_position", "where the shutters are"},
      {"pulse_counter", "counter readings"}, {"energy_kWhtoday", "meter reading"}, {"energy_kWhyesterday", "meter reading"},
      {"energy_kWhtotal", "meter reading"}, {"energy_kWhtoday_ph", "meter reading"}, {"energy_kWhyesterday_ph", "meter reading"},
      {"energy_kWhtotal_ph", "meter reading"}, {"energy_kWhexport_ph", "meter reading"}, {"energy_usage", "meter readings per tariff"},
      {"energy_kWhtotal_time", "when the meter total started"}, {"energy_kWhdoy", "the day of the last meter roll-over"},
      {"light_color", "the light's current colour (Color, Dimmer change it)"}, {"bri_power_on", "the brightness at the last power on"},
      {"sps30_inuse_hours", "SPS30 running hours"}, {"wifi_channel", "the AP last connected to (Wi-Fi quick connect)"},
      {"wifi_bssid", "the AP last connected to (Wi-Fi quick connect)"}, {"rf_code", "RF bridge codes learned from the air (RfKey)"},
      {"shutter_tilt_pos", "where the tilts are"},
      // Calibrated from a measurement (XxxSet takes the true value of the live reading:
      // EnergyCommandSetCalResponse); not sent, see not_sent above.
      {"energy_frequency_calibration", "FrequencySet calibrates from a reference frequency"},
      {"energy_power_calibration2", "PowerSet2 calibrates phase 2; PowerCal2 would write phase 1 on a one-phase device"},
      {"energy_voltage_calibration2", "VoltageSet2 calibrates phase 2; VoltageCal2 would write phase 1 on a one-phase device"},
      {"energy_current_calibration2", "CurrentSet2 calibrates phase 2; CurrentCal2 would write phase 1 on a one-phase device"},
      // Refused by SetOption (CmndSetoptionBase) and set only by SerialSend/SerialLog as a side effect.
      {"flag/mqtt_serial", "SerialSend sets it, SerialLog clears it"}, {"flag/mqtt_serial_raw", "SerialSend4..6 set it"},
      // Firmware bookkeeping, no command.
      {"displays", "internal"}, {"monitors", "internal"}, {"hass_new_discovery", "internal"}, {"gpio16_converted", "the 9.1 GPIO conversion done"},
      {"tuyamcu_topic", "internal"}, {"script_pram", "scripter variables"}, {"weight_offset", "HX711 tare reading"},
      {"sbflag1/influxdb_default", "set when InfluxDB defaults were written"}, {"mbflag2/log_file_idx", "the log file in use"},
      {"register8", "6.x register bytes"}, {"adc_param", "9.x+ ADC parameters (AdcParam<x> per GPIO: not in decode-config's export)"},
      {"adc_param32", "ESP32 ADC parameters (AdcParam<x> per GPIO: not in decode-config's export)"},
      {"adc_param_type", "9.x: the ADC function moved to the GPIO", NotSet::Sometimes},
      {"param", "bytes beyond SetOption49 in this layout", NotSet::Sometimes},
      {"tariff/2", "Tariff takes 1 and 2"}, {"tariff/3", "Tariff takes 1 and 2"},
      {"weight_precision", "HX711 display precision (no command in decode-config's export)"},
      {"webcam_config2/upgraded", "internal"},
      // A shutter without calibration (its first coefficient 0: ShutterSetHalfway clears it) gets its
      // halfway point; ShutterCalibration would set the halfway point back to 50. The other
      // coefficients of such a shutter are not used and not sent.
      {"shuttercoeff", "an uncalibrated shutter's coefficients", NotSet::Sometimes},
      // Settings with commands decode-config's export has none for (not exported either): KNX addresses
      // (KNX_PA/KNX_GA/KNX_CB), MCP230xx interrupt options (Sensor29 intdef/intcnt …), the AS3935 raw
      // registers, ArtNet (ArtNetConfig), the Shelly dimmer firmware fields, the pixel strip's shape
      // (ESP32 Pixels <n>,<reverse>,<height>,<alternate>), the light group widths (ws_*), PCF8574 pins,
      // the InfluxDB API version, the shutter's accuracy, flag2's axis resolution, Teleinfo options.
      {"knx_physsical_addr", "KNX_PA"}, {"knx_GA_registered", "KNX_GA"}, {"knx_GA_addr", "KNX_GA"}, {"knx_GA_param", "KNX_GA"},
      {"knx_CB_registered", "KNX_CB"}, {"knx_CB_addr", "KNX_CB"}, {"knx_CB_param", "KNX_CB"},
      {"mcp230xx_config/*/saved_state", "Sensor29 pin output state"}, {"mcp230xx_config/*/int_report_defer", "Sensor29 intdef"},
      {"mcp230xx_config/*/int_count_en", "Sensor29 intcnt"}, {"mcp230xx_config/*/keep_output", "Sensor29 keep output"},
      {"mcp230xx_int_prio", "Sensor29 intpri"}, {"mcp230xx_int_timer", "Sensor29 inttimer"},
      {"as3935_sensor_cfg", "AS3935 registers"}, {"artnet_universe", "ArtNetConfig"}, {"shelly_dimmer", "Shelly dimmer firmware"},
      {"shelly_dimmer_esp32", "Shelly dimmer firmware"}, {"light_pixels_reverse", "Pixels <n>,<reverse>"},
      {"light_pixels_height_1", "Pixels <n>,<reverse>,<height>"}, {"light_pixels_alternate", "Pixels <n>,…,<alternate>"},
      {"ws_color", "WS2812 clock colours (Scheme 5)"}, {"ws_width", "WS2812 clock hand widths (Width<x>)"},
      {"ws_color_esp32s3", "WS2812 clock colours"}, {"ws_width_esp32s3", "WS2812 clock hand widths"},
      {"pcf8574_config", "PCF8574 pins (web UI)"}, {"influxdb_version", "the InfluxDB API version"}, {"shutter_accuracy", "internal"},
      {"flag2/axis_resolution", "no command"}, {"teleinfo", "Teleinfo options (EnergyConfig)"},
      {"touch_threshold", "CmndTouchThres keeps the threshold in RAM only (TOUCH_BUTTON.pin_threshold)"},
      {"sensors", "WebSensor/SetSensor (decode-config has no command for this layout's two rows)", NotSet::Sometimes},
      // Whole flag words a layout names no bits of (7.x flag4, 8.x/9.0 flag5): no SetOption maps to them.
      {"flag4", "no bit named in this layout", NotSet::NotAnObject}, {"flag5", "no bit named in this layout", NotSet::NotAnObject},
      // Texts no command can store empty: StateText and Prefix take any text, an empty argument is a query.
      {"state_text/*", "CmndStateText has no clear", NotSet::EmptyText}, {"mqtt_prefix/*", "CmndPrefix has no clear", NotSet::EmptyText},
  };
  return v;
}

std::string cmnd_topic(const SimDevice& d, const std::string& command) {
  auto t = d.command_filters().at(0);
  return t.substr(0, t.size() - 1) + command;
}

// What a restore by commands does (RestoreJob): each group packed into Backlogs, a restarting group
// ending with Restart 1, the device restarting when it says so.
void replay(SimDevice& d, const ojson& fields, bool secrets, std::int64_t& now) {
  for (auto& g : settings_commands(fields, CommandOptions{secrets})) {
    if (g.restarts) g.commands.push_back("Restart 1");
    for (auto& c : pack_backlog(g.commands)) {
      auto r = d.handle(cmnd_topic(d, c.command), c.payload, now);
      now += 100;
      if (r.restart || r.restart_when_idle) d.reboot(now += 1000);
    }
  }
}

void reset6(SimDevice& d, std::int64_t& now) {
  d.handle(cmnd_topic(d, "Reset"), "6", now);
  d.reboot(now += 1000);
}

ojson decoded(const std::vector<std::uint8_t>& bytes) {
  auto r = read_dmp(bytes);
  EXPECT_TRUE(r.file) << r.error;
  return r.file ? SettingsLayouts::builtin().decode(*r.file).fields : ojson::object();
}

bool same(const ojson& a, const ojson& b) {
  if (a.is_number_float() || b.is_number_float()) return a.is_number() && b.is_number() && std::abs(a.get<double>() - b.get<double>()) < 1e-6;
  if (a.is_array() || a.is_object()) {
    if (a.type() != b.type() || a.size() != b.size()) return false;
    if (a.is_array()) {
      for (std::size_t i = 0; i < a.size(); ++i)
        if (!same(a[i], b[i])) return false;
      return true;
    }
    for (auto& [k, v] : a.items())
      if (!b.contains(k) || !same(v, b[k])) return false;
    return true;
  }
  return a == b;
}

struct Replayed {
  const char* name;
};

class SettingsReplay : public ::testing::TestWithParam<Replayed> {};

// Every leaf of a decoded object by its path ("timer/0/arm", "flag/save_state", "friendlyname/3").
void leaves(const ojson& v, const std::string& path, std::map<std::string, ojson>& out) {
  if (v.is_object() && !v.empty()) {
    for (auto& [k, x] : v.items()) leaves(x, path.empty() ? k : path + "/" + k, out);
  } else if (v.is_array() && !v.empty()) {
    for (std::size_t i = 0; i < v.size(); ++i) leaves(v[i], path + "/" + std::to_string(i), out);
  } else {
    out[path] = v;
  }
}

// Whether a command of the replay addressed this leaf (the simulator's record: the field itself, or
// a field it is part of).
bool addressed(const std::set<std::string>& fields, const std::string& leaf) {
  for (auto p = leaf;; p = p.substr(0, p.rfind('/'))) {
    if (fields.count(p)) return true;
    if (p.find('/') == std::string::npos) return false;
  }
}

// The entry of the list a leaf falls under (its path or a prefix of it, indexes as "*"); nullptr if none.
const NotSet* listed_as(const std::string& path, const ojson& value) {
  for (auto p = path;; p = p.substr(0, p.rfind('/'))) {
    for (auto& n : not_set_by_commands())
      if (p == n.field && (n.when == NotSet::Always || n.when == NotSet::Sometimes ||
                           (n.when == NotSet::EmptyText && value.is_string() && value.get<std::string>().empty()) ||
                           (n.when == NotSet::NotAnObject && !value.is_object())))
        return &n;
    if (p.find('/') == std::string::npos) return nullptr;
  }
}
const NotSet* listed(const std::string& leaf, const ojson& value) {
  // The path as it is, then with its indexes as "*".
  std::string generic;
  std::stringstream ss(leaf);
  for (std::string part; std::getline(ss, part, '/');)
    generic += (generic.empty() ? "" : "/") + (std::all_of(part.begin(), part.end(), ::isdigit) ? std::string("*") : part);
  if (auto* n = listed_as(leaf, value)) return n;
  return listed_as(generic, value);
}

// A leaf of decode-config's alias of a field another layout variant holds (my_gp beside my_gp_esp32,
// module beside module_esp32s3 …) when the variant is the one addressed.
bool alias_of_addressed(const std::set<std::string>& fields, const ojson& all, const std::string& leaf) {
  auto top = leaf.substr(0, leaf.find('/'));
  auto rest = leaf.substr(top.size());
  auto base = top.substr(0, top.find("_esp32"));
  for (auto& v : field_variants(base))
    if (v != top && all.contains(v) && addressed(fields, v + rest)) return true;
  return false;
}

// A vector made a device's settings file: what Tasmota's commands make of the vector (a replay on a
// Reset 6 device), with the vector's values in every field no command addressed.
struct Given {
  fleet::sim::DeviceSpec spec;
  DmpFile file;
  ojson fields;
  std::set<std::string> overlaid;  // fields decode-config's tables lay over ones a command set (same bytes)
};

Given given_of(const std::string& name) {
  std::ifstream in(data_path(name + ".dmp"), std::ios::binary);
  std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  auto vec = read_dmp(bytes);
  EXPECT_TRUE(vec.file) << vec.error;
  auto platform = vec.file->platform().value_or(0);
  Given g{{}, *vec.file, {}, {}};
  g.spec.version = vec.file->version().str();
  g.spec.chip = platform_name(platform);
  g.spec.build = platform ? "tasmota32" : "tasmota";
  g.spec.mac = "5C:CF:7F:12:34:56";
  g.spec.ip = "127.0.0.5";
  g.spec.settings.topic = "replay";
  g.spec.relays = platform ? 32 : 8;  // MAX_RELAYS
  auto& layouts = SettingsLayouts::builtin();
  auto vector_fields = layouts.decode(*vec.file).fields;
  std::int64_t now = kNow;
  SimDevice first(g.spec, now);
  EXPECT_EQ("", first.restore_config(bytes));
  first.reboot(now += 1000);
  reset6(first, now);
  replay(first, vector_fields, true, now);
  auto replayed = *read_dmp(first.config_file()).file;
  g.file = replayed;
  std::map<std::string, ojson> vector_leaves, replayed_leaves, now_leaves;
  leaves(vector_fields, "", vector_leaves);
  leaves(layouts.decode(replayed).fields, "", replayed_leaves);
  // (A random text may not fit the text pool beside the others: it keeps what the replay left.)
  for (auto& [leaf, v] : vector_leaves)
    if (!addressed(first.addressed_fields(), leaf)) (void)layouts.set(g.file, leaf, v);
  // decode-config's tables overlay some fields on others (aliases at the same bytes): what a command
  // set wins, and an overlaid field shows the same bytes.
  for (auto& [leaf, v] : replayed_leaves)
    if (addressed(first.addressed_fields(), leaf)) (void)layouts.set(g.file, leaf, v);
  g.file.seal();
  g.fields = layouts.decode(g.file).fields;
  leaves(g.fields, "", now_leaves);
  for (auto& [leaf, v] : vector_leaves)
    if (!addressed(first.addressed_fields(), leaf) && now_leaves.count(leaf) && !same(v, now_leaves[leaf])) g.overlaid.insert(leaf);
  return g;
}

// The given file on a fresh device, Reset 6, the export of its settings replayed.
struct Replay {
  ojson after_reset, back;
  std::set<std::string> addressed;
};

Replay replay_given(const Given& g, bool secrets) {
  std::int64_t now = kNow;
  SimDevice device(g.spec, now);
  EXPECT_EQ("", device.restore_config(g.file.bytes()));
  device.reboot(now += 1000);
  reset6(device, now);
  Replay r;
  r.after_reset = decoded(device.config_file());
  replay(device, g.fields, secrets, now);
  r.back = decoded(device.config_file());
  r.addressed = device.addressed_fields();
  return r;
}

TEST_P(SettingsReplay, AReset6DeviceGivenTheExportedCommandsHoldsTheSameSettingsAgain) {
  auto name = std::string(GetParam().name);
  auto g = given_of(name);
  auto r = replay_given(g, true);
  std::map<std::string, ojson> given_leaves, reset_leaves, back_leaves;
  leaves(g.fields, "", given_leaves);
  leaves(r.after_reset, "", reset_leaves);
  leaves(r.back, "", back_leaves);
  std::vector<std::string> diffs;
  std::set<std::string> unaddressed;
  int compared = 0, restored = 0;
  for (auto& [leaf, v] : given_leaves) {
    bool came_back = back_leaves.count(leaf) && same(v, back_leaves[leaf]);
    if (!addressed(r.addressed, leaf)) {
      if (alias_of_addressed(r.addressed, g.fields, leaf) || g.overlaid.count(leaf)) continue;
      // No command sets it: it must be listed.
      if (!listed(leaf, v)) unaddressed.insert(leaf);
      continue;
    }
    if (auto* l = listed(leaf, v); l && l->when == NotSet::Always) diffs.push_back(leaf + ": listed as set by no command, yet a command addresses it");
    // CommandHandler drops the spaces an argument begins with: no command gives a text that starts with one.
    if (!came_back && v.is_string() && !v.get<std::string>().empty() && v.get<std::string>()[0] == ' ') continue;
    if (!came_back && listed(leaf, v)) continue;  // an empty text no command can store
    ++compared;
    if (!came_back) diffs.push_back(leaf + ": given " + v.dump().substr(0, 120) + ", after the replay " + (back_leaves.count(leaf) ? back_leaves[leaf].dump().substr(0, 120) : "(none)"));
    else if (!same(v, reset_leaves[leaf])) ++restored;
  }
  for (auto& f : unaddressed) diffs.push_back(f + ": no command sets it, and it is not listed");
  RecordProperty("values", compared);
  RecordProperty("restored", restored);
  // The replay carries most of it: at least half the compared values differ from what Reset 6 left.
  EXPECT_GT(2 * restored, compared) << name;
  for (std::size_t i = 0; i < diffs.size() && i < 80; ++i) ADD_FAILURE() << name << ": " << diffs[i];
  EXPECT_EQ(0u, diffs.size()) << name;
}

// Without secrets the export leaves the credentials out, and only them: after the replay the rest is back.
TEST(SettingsReplayWithoutSecrets, OnlyTheCredentialsAreMissing) {
  static const std::vector<std::string> kSecrets = {"mqtt_pwd", "sta_pwd", "web_password", "rgx_pwassword", "telegram_token", "influxdb_token",
                                                    "keeloq_", "pn532_", "zb_"};
  for (auto name : {"random-15.0.1", "random-15.0.1-esp32"}) {
    auto g = given_of(name);
    auto with = replay_given(g, true).back;
    auto without = replay_given(g, false).back;
    std::map<std::string, ojson> a, b;
    leaves(with, "", a);
    leaves(without, "", b);
    std::set<std::string> differ;
    for (auto& [leaf, v] : a)
      if (!b.count(leaf) || !same(v, b[leaf])) differ.insert(leaf.substr(0, leaf.find('/')));
    // The checksums follow the bytes that differ.
    differ.erase("cfg_crc");
    differ.erase("cfg_crc32");
    for (auto& f : differ) {
      bool secret = std::any_of(kSecrets.begin(), kSecrets.end(), [&](const std::string& s) { return f.rfind(s, 0) == 0; });
      EXPECT_TRUE(secret) << name << ": " << f << " differs without secrets";
    }
    EXPECT_FALSE(differ.empty()) << name;
    if (!g.fields["web_password"].get<std::string>().empty()) {
      EXPECT_TRUE(differ.count("web_password")) << name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Vectors, SettingsReplay,
                         ::testing::Values(Replayed{"random-6.7.1"}, Replayed{"random-7.2.0"}, Replayed{"random-8.5.1"}, Replayed{"random-9.1.0"},
                                           Replayed{"random-9.5.0-esp32"}, Replayed{"random-12.5.0"}, Replayed{"random-12.5.0-esp32"},
                                           Replayed{"random-14.2.0-esp32s3"}, Replayed{"random-15.0.1"}, Replayed{"random-15.0.1-esp32"}),
                         [](const ::testing::TestParamInfo<Replayed>& i) {
                           std::string n = i.param.name;
                           for (auto& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
