#pragma once
// Which decoded flag bit each SetOption<n> is: decode-config's names for Tasmota's bits. Facts: the
// numbers are Tasmota's SetoptionDecode (support_command.ino: 0-31 = flag, 32-49 = param, 50-81 =
// flag3, 82-113 = flag4, 114-145 = flag5, 146-177 = flag6), the bits and names decode-config's
// settings tables, checked against the bit comments of Tasmota's settings.h / tasmota_types.h
// (SOBitfield … SOBitfield6). Shared by the export (which command sets a bit) and the simulator
// (which bit a command sets), as a table of facts, not as logic.
#include <span>

namespace fleet::backup {

struct SetOptionBit {
  int number;           // SetOption<number>
  const char* group;    // "flag", "flag3", "flag4", "flag5", "flag6"
  const char* name;     // decode-config's name of the bit (one layout holds one name per number)
  const char* command;  // the command of its own that sets it (PowerRetain …), nullptr: SetOption<n>
};

// Every bit of the SetOption words, under every name decode-config gives it across layouts.
std::span<const SetOptionBit> setoption_bits();

// SetOption<n> answers Error for these (CmndSetoptionBase, the same in every release from 6.x to 15.x):
// 5/6/7/9 (the MQTT retain flags), 14 (interlock), 22/23 (mqtt_serial, set by SerialSend/SerialLog),
// 25/27 (KNX).
bool setoption_refused(int number);

}  // namespace fleet::backup
