// Tasmota payloads (inventory/payloads.h). Input: a first line naming the message as its topic ends,
// "tele/STATE", "stat/STATUS0", "tele/LWT", … (classify() picks the kind; "tasmota/discovery/<MAC>/config"
// is Tasmota's discovery), then the payload.
// Aborts only when a parsed value breaks what the parser promises its callers: text fields printable
// and bounded, a MAC in its one normalized form, an uptime that is a count of seconds or -1.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "inventory/payloads.h"

using namespace fleet::inventory;

namespace {

void check_text(const std::optional<std::string>& s) {
  if (!s) return;
  if (s->size() > 255) std::abort();  // OtaUrl's limit, the largest
  for (unsigned char c : *s)
    if (c < 0x20 || c == 0x7f) std::abort();
}

void check_text(const std::optional<std::int64_t>&) {}

void check_mac(const std::string& mac) {
  if (mac.empty()) return;
  if (mac.size() != 17 || normalize_mac(mac) != mac) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto nl = input.find('\n');
  std::string_view name = input.substr(0, nl);
  std::string_view payload = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
  bool tele = name.starts_with("tele/");
  auto slash = name.find('/');
  std::string_view suffix = slash == std::string_view::npos ? name : name.substr(slash + 1);

  auto kind = name.starts_with("tasmota/discovery/") ? MessageKind::Discovery : classify(tele, suffix);
  auto result = parse_payload(kind, payload);
  const DeviceFacts& f = result.facts;
#define FLEET_CHECK(kind, field) check_text(f.field);
  FLEET_DEVICE_FIELDS(FLEET_CHECK)
#undef FLEET_CHECK
  if (f.mac) check_mac(*f.mac);

  // The helpers on their own, as the payload text.
  check_mac(normalize_mac(payload));
  if (parse_uptime(payload) < -1) std::abort();
  return 0;
}
