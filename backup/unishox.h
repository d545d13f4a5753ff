#pragma once
// Tasmota's variant of Unishox, the compressor of rules of 512 bytes or more (lib/Unishox-1.0-shadinger,
// used by xdrv_10_rules.ino SetRule/GetRule). Written from the format's facts, checked against
// decode-config v15.0.1.3's class Unishox:
// - a bit stream, most significant bit first, of the Unishox 1 codes with Tasmota's tables (sets 3, 4 and
//   4A reordered for rules), no Unicode state: bytes outside 32..126 other than LF and TAB are "binary",
//   the old Unicode code (3 bits) and a count of 255 - byte; CRLF's code means "repeat the last byte";
// - counts use 5, 7, 9, 12 or 16 bits behind a prefix (the 2-bit count of Unishox 1 is gone);
// - no output byte is 0x00: a completed 0x00 or 0x2A byte is written as 0x2A then byte + 1;
// - the last byte is padded with the first bits of the terminator code (there is no terminator when
//   the bits end on a byte boundary); the compressed data is not NUL terminated.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::backup {

// nullopt when the data is malformed (an escape other than 0x2A 0x01 / 0x2A 0x2B, a 0x00 byte, a count
// cut off, a repeat reaching before the start) or when the text would be longer than max_out. Data that
// ends inside a code ends the text there, as Tasmota's decoder does. Never reads past `compressed`.
std::optional<std::string> unishox_decompress(std::string_view compressed, std::size_t max_out);

// The firmware's bytes for `text`; nullopt when they would be longer than max_out.
std::optional<std::string> unishox_compress(std::string_view text, std::size_t max_out);

// A rule slot of the settings (Settings->rules[i], 512 bytes) as Tasmota's xdrv_10_rules.ino reads it:
// plain text up to its NUL when byte 0 is not 0; empty when bytes 0 and 1 are 0; otherwise compressed:
// byte 1 is (length + 7) / 8 and the compressed bytes follow up to a NUL. nullopt for a compressed rule
// that does not decode within the buffer the firmware gives it.
std::optional<std::string> decode_stored_rule(const std::uint8_t* p, std::size_t n);

// The `slot` bytes to store `text` as SetRule does: plain (NUL terminated) below `slot` bytes, empty as
// two 0 bytes, compressed from `slot` bytes on when compress_allowed. nullopt when it cannot be stored:
// compressed larger than slot - 3 bytes, longer than 2040 bytes (the length byte), a NUL in the text, or
// too long and not allowed to compress. The rest of the slot is 0 (the firmware leaves it as it was).
std::optional<std::vector<std::uint8_t>> encode_stored_rule(std::string_view text, std::size_t slot, bool compress_allowed);

}  // namespace fleet::backup
