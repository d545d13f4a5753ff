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
#include "orchestrator/control_api.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_audit_log.h"
#include "store/sqlite_backup_store.h"
#include "store/sqlite_job_store.h"
#include "store/sqlite_rollout_store.h"
#include "tests/unit/fakes.h"

using namespace fleet;

namespace {

struct World {
  store::Database db{":memory:"};
  int level = store::migrate(db);
  store::SqliteRolloutStore rollouts{db};
  store::SqliteAuditLog audit{db};
  store::SqliteJobStore jobs{db};
  store::SqliteBackupStore backups{db};
  testing::FakeClock clock;
  testing::FakeTransport transport;
  testing::FakeStore inv_store;
  inventory::Inventory inv{mqtt::TopicScheme(), transport, inv_store, clock};
  orchestrator::JobRunner runner{transport, clock, orchestrator::JobRunnerOptions{mqtt::TopicScheme(), 100}};
  orchestrator::RolloutExecutor exec{{rollouts, audit, jobs, backups, runner, inv, transport, clock}, {}};
  orchestrator::ControlApi api{exec, rollouts, "tasmota-fleet"};

  World() {
    // As in tests/unit/control_api_test.cpp: a device on 8.5.1 and one on the latest release.
    inv.on_message("tele/plug/LWT", "Online", true);
    inv.on_message("stat/plug/STATUS", R"({"Status":{"Module":1,"Topic":"plug"}})", false);
    inv.on_message("stat/plug/STATUS5", R"({"StatusNET":{"Hostname":"plug","IPAddress":"127.0.0.9","Mac":"5C:CF:7F:00:00:01"}})",
                   false);
    inv.on_message(
        "stat/plug/STATUS2",
        R"J({"StatusFWR":{"Version":"8.5.1(tasmota)","Core":"2_7_4_9","SDK":"2.2.2-dev(38a443e)","Hardware":"ESP8266EX"}})J",
        false);
    inv.on_message("tele/lamp/LWT", "Online", true);
    inv.on_message(
        "stat/lamp/STATUS0",
        R"J({"Status":{"Topic":"lamp"},"StatusNET":{"Hostname":"lamp","IPAddress":"127.0.0.10","Mac":"5C:CF:7F:00:00:02"},)J"
        R"J("StatusFWR":{"Version":"15.0.1(release-tasmota32)","Hardware":"ESP32-C3"}})J",
        false);
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
