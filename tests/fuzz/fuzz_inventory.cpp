// The inventory as the daemon feeds it (inventory/inventory.h): each input line is one MQTT message,
// "TOPIC PAYLOAD" ("R TOPIC PAYLOAD" for a retained one), topics and payloads as devices (or anyone on
// the broker) publish them. A second passes between messages, so queries, retries and writes happen.
// Aborts when a record breaks what the rest of the daemon relies on: its key, the MAC, in the one
// normalized form, and found again by it.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/log.h"
#include "inventory/inventory.h"
#include "inventory/payloads.h"
#include "tests/unit/fakes.h"

using namespace fleet;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_threshold(log::Level::Off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  testing::FakeClock clock;
  testing::FakeTransport transport;
  testing::FakeStore store;
  inventory::Inventory inv{mqtt::TopicScheme(), transport, store, clock};
  inv.follow_default_topics();
  inv.on_connected();
  while (!input.empty()) {
    auto nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    input.remove_prefix(nl == std::string_view::npos ? input.size() : nl + 1);
    bool retained = line.starts_with("R ");
    if (retained) line.remove_prefix(2);
    auto space = line.find(' ');
    std::string_view topic = line.substr(0, space);
    std::string_view payload = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    inv.on_message(topic, payload, retained);
    clock.advance(1000);
    inv.tick();
  }
  if (!inv.flush()) std::abort();  // the fake store never fails
  for (const auto& d : inv.devices()) {
    if (d.mac.empty() || inventory::normalize_mac(d.mac) != d.mac) std::abort();
    if (inv.find(d.mac) == nullptr) std::abort();
    (void)inv.conflict_of(d.mac);
    (void)inventory::fallback_topic_of(d);
  }
  for (const auto& d : inv.devices()) (void)inv.forget(d.mac);
  return 0;
}
