#include "backup/gpio_numbering.h"

#include <array>

namespace fleet::backup {
namespace {

// Legacy (8-bit, before 9.1) GPIO function number -> the 9.1+ number (function << 5 | instance), for the
// 217 legacy user-selectable functions of ESP8266. Derived from Tasmota's tasmota_template_legacy.h
// (LegacyUserSelectablePins and kGpioConvert, as of the 9.x releases: without the ME007 pair a later
// master inserted) evaluated against UserSelectablePins in tasmota_template.h. Checked against the
// vectors: 17 (Button1) -> 32, 21 (Relay1) -> 224, 56 (Led1i) -> 320.
constexpr std::array<std::uint16_t, 217> kLegacyToCurrent = {
    0, 1184, 1216, 1248, 1312, 608, 640, 1376, 1056, 160, 161, 162,
    163, 164, 165, 166, 167, 32, 33, 34, 35, 224, 225, 226,
    227, 228, 229, 230, 231, 256, 257, 258, 259, 260, 261, 262,
    263, 416, 417, 418, 419, 420, 352, 353, 354, 355, 448, 449,
    450, 451, 452, 1088, 288, 289, 290, 291, 320, 321, 322, 323,
    1408, 1440, 1472, 1504, 1600, 1632, 768, 800, 992, 1696, 1760, 1792,
    1824, 1856, 1888, 1920, 1952, 1984, 2016, 2048, 2080, 2112, 192, 193,
    194, 195, 196, 197, 198, 199, 64, 65, 66, 67, 384, 385,
    386, 387, 1536, 1568, 2144, 1728, 2176, 2208, 2240, 1120, 1152, 2272,
    2304, 2336, 2368, 832, 864, 896, 928, 960, 2400, 2432, 2464, 2496,
    2528, 2560, 96, 97, 98, 99, 128, 129, 130, 131, 2592, 2624,
    2656, 2688, 2720, 2752, 2784, 2816, 2848, 2880, 2912, 2944, 2976, 3008,
    3040, 3072, 3104, 3136, 3200, 3232, 3264, 3296, 3265, 3297, 3392, 3424,
    3456, 544, 576, 3168, 480, 512, 1024, 3488, 3520, 3552, 3584, 3616,
    3648, 3680, 3712, 3744, 3776, 3808, 3809, 3810, 3904, 3936, 3968, 4000,
    4032, 4064, 4096, 4128, 4160, 4192, 4224, 4256, 4288, 4320, 4352, 4384,
    1344, 1280, 4416, 4448, 4480, 4512, 4544, 4576, 4608, 4640, 4672, 1664,
    4928, 4960, 4992, 5056, 5088, 5120, 5152, 5184, 5216, 5248, 5280, 5312,
    5344,
};

}  // namespace

std::uint16_t gpio_from_legacy(std::uint16_t legacy) {
  if (legacy < kLegacyToCurrent.size()) return kLegacyToCurrent[legacy];
  return kGpioUser;  // 251-255: fixed SPI pins and User; Tasmota's GpioConvert gives AGPIO(GPIO_USER)
}

bool same_gpio_function(std::uint16_t a, std::uint16_t b) {
  auto user = [](std::uint16_t v) { return v == kGpioUser || v == 1; };
  return a == b || (user(a) && user(b));
}

}  // namespace fleet::backup
