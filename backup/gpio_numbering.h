#pragma once
// Tasmota 9.1 renumbered GPIO functions on ESP8266 (tasmota-upgrading-guide.md: "9.1 … GPIO mapping";
// tasmota-facts.md: the 9.1 GPIO renumbering in SettingsDelta): before, one byte per function and
// instance (Relay1 = 21 … Relay8 = 28); from 9.1, the function in the high bits and the instance in the
// low five (Relay1 = 7 << 5 = 224). A device upgraded across 9.1 converts its module GPIOs and template
// itself; comparing a backup from before with the settings after must do the same.
#include <cstdint>

namespace fleet::backup {

// AGPIO(GPIO_USER): 2047 << 5. Templates shown as JSON use 1 for it.
inline constexpr std::uint16_t kGpioUser = 65504;
// The 9.1+ number of a legacy GPIO function number.
std::uint16_t gpio_from_legacy(std::uint16_t legacy);
// Equal, counting the two spellings of "User" (65504 stored, 1 in template JSON) as one.
bool same_gpio_function(std::uint16_t a, std::uint16_t b);

}  // namespace fleet::backup
