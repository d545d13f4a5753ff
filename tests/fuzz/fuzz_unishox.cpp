// Tasmota's rule compression (backup/unishox.h), as .dmp files carry it. Each input is read three ways:
// as compressed data, as a stored 512-byte rule slot, and as a rule text to store. Aborts when a text
// does not come back from its compressed form, or from the slot encode_stored_rule filled: a restore
// would then write a different rule than the backup holds.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "backup/unishox.h"

using namespace fleet::backup;

namespace {

constexpr std::size_t kSlot = 512;  // Settings->rules[i]

void round_trip(std::string_view text) {
  if (auto packed = unishox_compress(text, 4 * kSlot)) {
    auto back = unishox_decompress(*packed, text.size());
    if (!back || *back != text) std::abort();
  }
  if (auto slot = encode_stored_rule(text, kSlot, true)) {
    if (slot->size() != kSlot) std::abort();
    auto back = decode_stored_rule(slot->data(), slot->size());
    if (!back || *back != text) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto text = unishox_decompress(input, 8 * kSlot)) {
    if (text->size() > 8 * kSlot) std::abort();
    round_trip(*text);
  }
  if (size <= kSlot) (void)decode_stored_rule(data, size);
  round_trip(input);
  return 0;
}
