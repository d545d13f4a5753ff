// Control API requests (orchestrator/control_api.h): whatever anyone allowed on <base>/v1/control
// publishes. Each input is one request payload, answered by an API over a fresh in-memory database and
// the unit tests' fakes (the inventory knows two devices), so inputs do not depend on each other.
// Aborts when handle() breaks its contract: no answer on the control topic, an answer without "ok", an
// error without its reason, or a reply topic that is a wildcard or one of the daemon's state topics.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/log.h"
#include "tests/unit/rollout_world.h"

using namespace fleet;

namespace {

struct World : testing::RolloutWorld {
  World() {
    // As in tests/unit/control_api_test.cpp: a device on 8.5.1 and one on the latest release.
    device("plug", "5C:CF:7F:00:00:01", "8.5.1(tasmota)", "ESP8266EX");
    device("lamp", "5C:CF:7F:00:00:02", "15.0.1(release-tasmota32)", "ESP32-C3");
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_threshold(log::Level::Off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view payload(reinterpret_cast<const char*>(data), size);
  World w;
  auto reply = w.api.handle(w.api.request_topic(), payload);
  if (!reply || !reply->body.contains("ok") || !reply->body["ok"].is_boolean()) std::abort();
  if (!reply->body["ok"].get<bool>() && (!reply->body.contains("error") || reply->body["error"].get<std::string>().empty()))
    std::abort();
  const std::string& t = reply->topic;
  if (t.empty() || t.find_first_of("+#") != std::string::npos) std::abort();
  if (t.rfind("tasmota-fleet/v1/", 0) == 0 && t.rfind("tasmota-fleet/v1/replies", 0) != 0) std::abort();
  (void)reply->body.dump();
  // What the request started runs a few steps, as the daemon's loop would run it.
  for (int i = 0; i < 3; ++i) {
    w.clock.advance(1000);
    w.inv.tick();
    w.exec.tick();
  }
  return 0;
}
