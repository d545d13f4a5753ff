#include "backup/setting_options.h"

namespace fleet::backup {
namespace {

// Number, word, decode-config's name, own command. Names that differ across layouts appear twice
// (value_units became mqtt_add_global_info in 9.5, tuya_dimmer_min_limit became sb_receive_invert
// in 13.x). Missing numbers are Tasmota's spares or bits decode-config does not name.
constexpr SetOptionBit kBits[] = {
    {0, "flag", "save_state", nullptr}, {1, "flag", "button_restrict", nullptr}, {2, "flag", "mqtt_add_global_info", nullptr},
    {2, "flag", "value_units", nullptr}, {3, "flag", "mqtt_enabled", nullptr}, {4, "flag", "mqtt_response", nullptr},
    {5, "flag", "mqtt_power_retain", "PowerRetain"}, {6, "flag", "mqtt_button_retain", "ButtonRetain"},
    {7, "flag", "mqtt_switch_retain", "SwitchRetain"}, {8, "flag", "temperature_conversion", nullptr},
    {9, "flag", "mqtt_sensor_retain", "SensorRetain"}, {10, "flag", "mqtt_offline", nullptr}, {11, "flag", "button_swap", nullptr},
    {12, "flag", "stop_flash_rotate", nullptr}, {13, "flag", "button_single", nullptr}, {14, "flag", "interlock", "Interlock"},
    {15, "flag", "pwm_control", nullptr}, {16, "flag", "ws_clock_reverse", nullptr}, {17, "flag", "decimal_text", nullptr},
    {18, "flag", "light_signal", nullptr}, {19, "flag", "hass_discovery", nullptr}, {20, "flag", "not_power_linked", nullptr},
    {21, "flag", "no_power_on_check", nullptr}, {22, "flag", "mqtt_serial", nullptr}, {23, "flag", "mqtt_serial_raw", nullptr},
    {24, "flag", "pressure_conversion", nullptr}, {25, "flag", "knx_enabled", "KNX_ENABLED"},
    {26, "flag", "device_index_enable", nullptr}, {27, "flag", "knx_enable_enhancement", "KNX_ENHANCED"},
    {28, "flag", "rf_receive_decimal", nullptr}, {29, "flag", "ir_receive_decimal", nullptr}, {30, "flag", "hass_light", nullptr},
    {31, "flag", "global_state", nullptr},
    {50, "flag3", "timers_enable", "Timers"}, {51, "flag3", "user_esp8285_enable", nullptr},
    {52, "flag3", "time_append_timezone", nullptr}, {53, "flag3", "gui_hostname_ip", nullptr}, {54, "flag3", "tuya_apply_o20", nullptr},
    {55, "flag3", "mdns_enabled", nullptr}, {56, "flag3", "use_wifi_scan", nullptr}, {57, "flag3", "use_wifi_rescan", nullptr},
    {58, "flag3", "receive_raw", nullptr}, {59, "flag3", "hass_tele_on_power", nullptr}, {60, "flag3", "sleep_normal", nullptr},
    {61, "flag3", "button_switch_force_local", nullptr}, {62, "flag3", "no_hold_retain", nullptr},
    {63, "flag3", "no_power_feedback", nullptr}, {64, "flag3", "use_underscore", nullptr},
    {65, "flag3", "fast_power_cycle_disable", nullptr}, {66, "flag3", "tuya_serial_mqtt_publish", nullptr},
    {67, "flag3", "buzzer_enable", nullptr}, {68, "flag3", "pwm_multi_channels", nullptr}, {69, "flag3", "sb_receive_invert", nullptr},
    {69, "flag3", "tuya_dimmer_min_limit", nullptr}, {70, "flag3", "energy_weekend", "Tariff9"},
    {71, "flag3", "dds2382_model", nullptr}, {72, "flag3", "hardware_energy_total", nullptr}, {73, "flag3", "mqtt_buttons", nullptr},
    {74, "flag3", "ds18x20_internal_pullup", nullptr}, {75, "flag3", "grouptopic_mode", nullptr},
    {76, "flag3", "bootcount_update", nullptr}, {77, "flag3", "slider_dimmer_stay_on", nullptr},
    {78, "flag3", "compatibility_check", nullptr}, {79, "flag3", "counter_reset_on_tele", nullptr},
    {80, "flag3", "shutter_mode", nullptr}, {81, "flag3", "pcf8574_ports_inverted", nullptr},
    {82, "flag4", "alexa_ct_range", nullptr}, {83, "flag4", "zigbee_use_names", nullptr}, {84, "flag4", "awsiot_shadow", nullptr},
    {85, "flag4", "device_groups_enabled", nullptr}, {86, "flag4", "led_timeout", nullptr}, {87, "flag4", "powered_off_led", nullptr},
    {88, "flag4", "multiple_device_groups", nullptr}, {89, "flag4", "zigbee_distinct_topics", nullptr},
    {90, "flag4", "only_json_message", nullptr}, {91, "flag4", "fade_at_startup", nullptr}, {92, "flag4", "pwm_ct_mode", nullptr},
    {93, "flag4", "compress_rules_cpu", nullptr}, {94, "flag4", "max6675", nullptr}, {95, "flag4", "network_wifi", "Wifi"},
    {96, "flag4", "network_ethernet", "Ethernet"}, {97, "flag4", "tuyamcu_baudrate", nullptr},
    {98, "flag4", "rotary_uses_rules", nullptr}, {99, "flag4", "zerocross_dimmer", nullptr}, {100, "flag4", "remove_zbreceived", nullptr},
    {101, "flag4", "zb_index_ep", nullptr}, {102, "flag4", "teleinfo_baudrate", nullptr}, {103, "flag4", "mqtt_tls", nullptr},
    {104, "flag4", "mqtt_no_retain", nullptr}, {105, "flag4", "white_blend_mode", nullptr}, {106, "flag4", "virtual_ct", nullptr},
    {107, "flag4", "virtual_ct_cw", nullptr}, {108, "flag4", "teleinfo_rawdata", nullptr}, {109, "flag4", "alexa_gen_1", nullptr},
    {110, "flag4", "zb_disable_autobind", nullptr}, {111, "flag4", "buzzer_freq_mode", nullptr}, {112, "flag4", "zb_topic_fname", nullptr},
    {113, "flag4", "rotary_poweron_dimlow", nullptr},
    {114, "flag5", "mqtt_switches", nullptr}, {115, "flag5", "mi32_enable", nullptr}, {116, "flag5", "zb_disable_autoquery", nullptr},
    {117, "flag5", "fade_fixed_duration", nullptr}, {118, "flag5", "zb_received_as_subtopic", nullptr},
    {119, "flag5", "zb_omit_json_addr", nullptr}, {120, "flag5", "zb_topic_endpoint", nullptr},
    {121, "flag5", "mqtt_state_retain", "StateRetain"}, {122, "flag5", "mqtt_info_retain", "InfoRetain"},
    {123, "flag5", "wiegand_hex_output", nullptr}, {124, "flag5", "wiegand_keypad_to_tag", nullptr},
    {125, "flag5", "zigbee_hide_-bridge_topic", nullptr}, {126, "flag5", "ds18x20_mean", nullptr}, {127, "flag5", "wifi_no_sleep", nullptr},
    {128, "flag5", "disable_referer_chk", nullptr}, {129, "flag5", "energy_phase", nullptr},
    {130, "flag5", "show_heap_with_timestamp", nullptr}, {131, "flag5", "tuya_allow_dimmer_0", nullptr},
    {132, "flag5", "tls_use_fingerprint", nullptr}, {133, "flag5", "shift595_invert_outputs", nullptr},
    {134, "flag5", "pwm_force_same_phase", nullptr}, {135, "flag5", "display_no_splash", nullptr},
    {136, "flag5", "tuyasns_no_immediate", nullptr}, {137, "flag5", "tuya_exclude_from_mqtt", nullptr},
    {138, "flag5", "gui_table_align", nullptr}, {139, "flag5", "mm_vs_inch", nullptr}, {140, "flag5", "mqtt_persistent", nullptr},
    {141, "flag5", "gui_module_name", nullptr}, {142, "flag5", "wait_for_wifi_result", nullptr},
    {143, "flag5", "zigbee_no_batt_autoprobe", nullptr}, {144, "flag5", "zigbee_include_time", nullptr},
    {145, "flag5", "mqtt_status_retain", "StatusRetain"},
    {146, "flag6", "use_esp32_temperature", nullptr}, {147, "flag6", "mqtt_disable_sserialrec", nullptr},
    {148, "flag6", "artnet_autorun", nullptr}, {149, "flag6", "dns_ipv6_priority", nullptr}, {150, "flag6", "no_voltage_common", nullptr},
    {151, "flag6", "matter_enabled", nullptr}, {152, "flag6", "bistable_single_pin", nullptr}, {153, "flag6", "berry_no_autoexec", nullptr},
    {154, "flag6", "berry_light_scheme", nullptr}, {155, "flag6", "zcfallingedge", nullptr}, {156, "flag6", "sen5x_passive_mode", nullptr},
    {157, "flag6", "neopool_outputsensitive", nullptr}, {158, "flag6", "mqtt_disable_modbus", nullptr},
    {159, "flag6", "counter_both_edges", nullptr}, {160, "flag6", "ld2410_use_pin", nullptr}, {161, "flag6", "gui_no_state_text", nullptr},
    {162, "flag6", "no_export_energy_today", nullptr}, {163, "flag6", "gui_device_name", nullptr}, {164, "flag6", "wizmote_enabled", nullptr},
};

}  // namespace

std::span<const SetOptionBit> setoption_bits() { return kBits; }

bool setoption_refused(int number) {
  switch (number) {
    case 5: case 6: case 7: case 9: case 14: case 22: case 23: case 25: case 27: return true;
    default: return false;
  }
}

}  // namespace fleet::backup
