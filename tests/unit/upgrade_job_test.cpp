// The durable upgrade job against a simulated device (pure: the device's replies, HTTP, OTA and
// restarts are played by the test as the runner would), and its resumption after our process is killed
// at every point where it persists its state: it must finish, and never send Reset 6, Upgrade 1 or a
// settings upload twice.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <fmt/format.h>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "backup/dmp_file.h"
#include "backup/settings_layouts.h"
#include "firmware/synthetic_image.h"
#include "orchestrator/upgrade_job.h"
#include "sim/sim_device.h"

using namespace fleet::orchestrator;
using namespace fleet::sim;
using fleet::planner::Step;
using fleet::planner::Version;
using nlohmann::json;

namespace {

constexpr std::int64_t kNow = 1'790'000'000'000;

DeviceSpec spec(const std::string& version) {
  DeviceSpec s;
  s.version = version;
  s.build = "tasmota";
  s.chip = "ESP8266";
  s.mac = "5C:CF:7F:12:34:56";
  s.ip = "127.0.0.5";
  s.program_kb = 450;
  s.free_kb = 550;
  s.settings.topic = "plug";
  s.settings.mqtt_password = "secret";
  s.settings.friendly_names[0] = "Desk Lamp";
  s.settings.tele_period = 60;
  s.settings.template_json = R"({"NAME":"Lamp","GPIO":[17,255,0,0,0,0,0,0,21,56,22,0,0],"FLAG":0,"BASE":18})";
  return s;
}

const std::vector<Step> kSteps = {Step::Backup,        Step::Reset6,      Step::OtaUrl,  Step::Upgrade,       Step::AwaitRestart,
                                  Step::VerifyVersion, Step::HealthCheck, Step::Restore, Step::VerifySettings};
// A hop on firmware that keeps its settings through the upgrade (no Reset 6, so nothing to restore).
const std::vector<Step> kKeepSettings = {Step::Backup,        Step::OtaUrl,      Step::Upgrade,       Step::AwaitRestart,
                                         Step::VerifyVersion, Step::HealthCheck, Step::VerifySettings};

std::vector<JobHop> hops_to(std::vector<std::string> versions, const std::vector<Step>& steps = kSteps) {
  std::vector<JobHop> hops;
  for (auto& v : versions) hops.push_back({v, "tasmota", "http://127.0.0.1:8070/tasmota/release-" + v + "/tasmota.bin.gz", steps});
  return hops;
}

// Our side of the world: the backups kept and the last persisted job state, which survive a "kill".
struct Durable {
  std::map<std::int64_t, std::vector<std::uint8_t>> backups;
  std::map<std::int64_t, fleet::backup::BackupRecord> records;  // the same backups whole (snapshot included)
  std::optional<json> state;
};

// Destructive commands as the simulated device received them.
struct Received {
  int reset6 = 0, upgrade = 0, uploads = 0;
};

// Where to kill the job: at a state write it persists (the nth that `at` accepts), right after the write
// (before_commands: the commands handed out with it never leave) or after its commands went out.
struct Kill {
  std::function<bool(const json& state)> at;
  int nth = 1;
  bool before_commands = false;
};

class World {
 public:
  explicit World(const std::string& version) : World(spec(version)) {}
  explicit World(DeviceSpec device_spec) : device(std::move(device_spec), kNow) {}
  SimDevice device;
  std::int64_t now = kNow;
  Received received;
  bool telemetry = true;  // the device publishes tele STATE every TelePeriod, as Tasmota does
  bool mute = false;      // the device takes commands but its replies are lost
  std::deque<std::string> restart_reasons;  // what the next restarts report (then "Software/System restart")
  // Called once a simulated second: a test's interference (a crash, a silence).
  std::function<JobEffects(World&, UpgradeJob&)> on_tick;
  // Destructive commands that reached the device without a state write of their own in front of them
  // saying "sent" for their step.
  std::vector<std::string> violations;

  // Runs `job` until it finishes, or until `kill` strikes (then returns false, leaving the device as it is).
  bool run(UpgradeJob& job, Durable& d, std::optional<Kill> kill = std::nullopt) {
    JobEffects queue = job.start(now);
    int matched = 0;
    for (int guard = 0; guard < 20000 && !job.finished(); ++guard) {
      if (queue.empty()) {
        now += 1000;
        queue = tick(job);
        // The runner hands a job time only once the time it names has come (and once a second): before
        // it, on_time() must do nothing, or a timeout would run out late.
        auto wake = job.wake_at_ms();
        auto more = job.on_time(now);
        if ((!wake || now < *wake) && !more.empty())
          ADD_FAILURE() << "on_time at " << now - kNow << " ms did something before the job's own time ("
                        << (wake ? std::to_string(*wake - kNow) + " ms" : "none") << ") at " << job.state().to_json().dump();
        queue.insert(queue.end(), more.begin(), more.end());
        continue;
      }
      auto e = std::move(queue.front());
      queue.erase(queue.begin());
      JobEffects more;
      const UpgradeJobState* persisted = nullptr;
      if (auto* p = std::get_if<effect::Persist>(&e)) persisted = &p->state;
      if (auto* p = std::get_if<effect::PersistThenSend>(&e)) persisted = &p->state();
      if (persisted) {
        d.state = persisted->to_json();
        fresh_state_ = d.state;
        if (kill && kill->at(*d.state) && ++matched == kill->nth) {
          if (!kill->before_commands) {
            // What was handed out with this write still reaches the device before the process dies,
            // up to the next write (whose commands the executor would not have handed out yet).
            if (auto* p = std::get_if<effect::PersistThenSend>(&e)) device_action(job, p->command(), false);
            for (auto& rest : queue) {
              if (!std::holds_alternative<effect::Send>(rest)) break;
              device_action(job, std::get<effect::Send>(rest).action(), false);
            }
          }
          return false;
        }
        if (auto* p = std::get_if<effect::PersistThenSend>(&e)) more = device_action(job, p->command(), true);
      } else if (auto* s = std::get_if<effect::Send>(&e)) {
        more = device_action(job, s->action(), true);
      } else if (auto* b = std::get_if<effect::StoreBackup>(&e)) {
        auto id = static_cast<std::int64_t>(d.backups.size() + 1);
        d.backups[id] = b->record.dmp;
        d.records[id] = b->record;
        more = job.on_backup_stored(id, now);
      } else if (auto* l = std::get_if<effect::LoadBackup>(&e)) {
        auto it = d.backups.find(l->backup_id);
        if (l->whole) more = job.on_backup_record_loaded(d.records.count(l->backup_id) ? std::optional(d.records[l->backup_id]) : std::nullopt, now);
        else more = job.on_backup_loaded(it == d.backups.end() ? std::nullopt : std::optional(it->second), now);
      }
      queue.insert(queue.end(), more.begin(), more.end());
    }
    return job.finished();
  }

  // A command the device takes from someone else (its settings changed behind the job's back).
  void command(const std::string& name, const std::string& payload) {
    auto filter = device.command_filters().at(0);
    device.handle(filter.substr(0, filter.size() - 1) + name, payload, now);
  }

  // The device crashes: LWT Offline, a boot with this restart reason, its announcements.
  JobEffects crash(UpgradeJob& job, const std::string& reason) {
    restart_reasons.push_front(reason);
    return restart(job, true);
  }

 private:
  std::optional<json> fresh_state_;  // written since the last destructive command
  std::int64_t next_state_ms_ = 0;  // the next tele STATE (0: one TelePeriod after the first tick)

  JobEffects tick(UpgradeJob& job) {
    JobEffects out;
    int period = device.spec().settings.tele_period;
    if (next_state_ms_ == 0) next_state_ms_ = now + 1000LL * period;
    if (telemetry && period > 0 && now >= next_state_ms_) {
      next_state_ms_ = now + 1000LL * period;
      out = feed(job, device.state(now), true);
    }
    if (on_tick) {
      auto more = on_tick(*this, job);
      out.insert(out.end(), more.begin(), more.end());
    }
    return out;
  }

  JobEffects feed(UpgradeJob& job, const Outgoing& p, bool on) {
    if (!on) return {};
    bool tele = p.topic.rfind("tele/", 0) == 0 || p.topic.find("/tele/") != std::string::npos;
    if (mute && !tele) return {};
    return job.on_message(tele, p.topic.substr(p.topic.rfind('/') + 1), p.payload, now);
  }

  JobEffects restart(UpgradeJob& job, bool on) {
    auto out = feed(job, {device.lwt_topic(), "Offline", true}, on);
    now += 1500;
    std::string reason = "Software/System restart";
    if (!restart_reasons.empty()) {
      reason = restart_reasons.front();
      restart_reasons.pop_front();
    }
    device.reboot(now, reason);
    next_state_ms_ = now + 1000LL * device.spec().settings.tele_period;
    for (auto& p : device.on_connected(now)) {
      auto m = feed(job, p, on);
      out.insert(out.end(), m.begin(), m.end());
    }
    if (auto url = device.take_boot_fetch()) {  // a minimal build fetching the full image
      auto m = ota(job, *url, on);
      out.insert(out.end(), m.begin(), m.end());
    }
    return out;
  }

  JobEffects ota(UpgradeJob& job, const std::string& url, bool on) {
    auto at = url.find("release-");
    auto version = url.substr(at + 8, url.find('/', at) - at - 8);
    bool minimal = url.find("-minimal") != std::string::npos;
    auto chip = fleet::planner::parse_chip(device.spec().chip);
    bool esp32 = chip != fleet::planner::Chip::ESP8266;
    auto image = fleet::firmware::make_image({chip, version, minimal ? "tasmota-minimal" : esp32 ? "tasmota32" : "tasmota",
                                              static_cast<std::size_t>((minimal ? 200 : 300) * 1024), url.ends_with(".gz")});
    bool missing = url.find("missing") != std::string::npos;  // an image the server does not have
    auto r = device.ota_downloaded(missing ? OtaDownload{url, 404, {}} : OtaDownload{url, 200, image}, now);
    JobEffects out;
    for (auto& p : r.publish) {
      auto m = feed(job, p, on);
      out.insert(out.end(), m.begin(), m.end());
    }
    if (r.fetch) {  // the device retries with the -minimal image by itself
      auto m = ota(job, *r.fetch, on);
      out.insert(out.end(), m.begin(), m.end());
    }
    if (r.restart) {
      auto m = restart(job, on);
      out.insert(out.end(), m.begin(), m.end());
    }
    return out;
  }

  // A destructive command must come right after a state write that says "sent" at its own step.
  void check_announced(const std::string& what, const std::string& step) {
    if (!fresh_state_) violations.push_back(what + ": no state written since the last destructive command");
    else if (!(*fresh_state_)["sent"].get<bool>() || (*fresh_state_)["step_name"] != step)
      violations.push_back(what + ": announced by " + fresh_state_->dump());
    fresh_state_.reset();
  }

  JobEffects device_action(UpgradeJob& job, const fleet::backup::DeviceAction& da, bool on) {
    JobEffects out;
    if (da.kind == fleet::backup::DeviceAction::Kind::Publish) {
      if (da.command.name == "Reset" && da.command.payload == "6") {
        ++received.reset6;
        check_announced("Reset 6", "Reset6");
      }
      if (da.command.name == "Upgrade" && da.command.payload == "1") {
        ++received.upgrade;
        check_announced("Upgrade 1", "Upgrade");
      }
      if (da.command.name == "FileUpload" && da.command.payload.find("Md5") != std::string::npos) {
        ++received.uploads;
        check_announced("FileUpload (its end)", "Restore");
      }
      auto filter = device.command_filters().at(0);
      auto r = device.handle(filter.substr(0, filter.size() - 1) + da.command.name, da.command.payload, now);
      for (auto& p : r.publish) {
        auto m = feed(job, p, on);
        out.insert(out.end(), m.begin(), m.end());
      }
      if (r.fetch) {
        auto m = ota(job, *r.fetch, on);
        out.insert(out.end(), m.begin(), m.end());
      }
      if (r.restart) {
        auto m = restart(job, on);
        out.insert(out.end(), m.begin(), m.end());
      }
    } else {
      WebRequest req{da.kind == fleet::backup::DeviceAction::Kind::HttpGet ? "GET" : "POST", da.path.substr(0, da.path.find('?')), std::nullopt,
                     std::nullopt};
      if (da.kind == fleet::backup::DeviceAction::Kind::HttpPost) {
        req.upload = da.upload;
        ++received.uploads;
        check_announced("POST " + da.path, "Restore");
      }
      auto reply = device.web(req);
      if (on && !mute) out = reply.status == 200 ? job.on_http(200, reply.body, "", now) : job.on_http(reply.status, std::nullopt, "HTTP error", now);
      if (reply.restart) {
        auto m = restart(job, on);
        out.insert(out.end(), m.begin(), m.end());
      }
    }
    return out;
  }
};

fleet::backup::BackupTarget target(const SimDevice& d) {
  return {d.spec().mac, d.topic(), d.spec().ip, *Version::parse(d.spec().version), fleet::planner::Chip::ESP8266};
}

UpgradeSettings settings() {
  UpgradeSettings s;
  s.device_mqtt_password = "secret";
  return s;
}

json fields(const SimDevice& d) {
  auto r = fleet::backup::read_dmp(d.config_file());
  return json(fleet::backup::SettingsLayouts::builtin().decode(*r.file).fields);
}

}  // namespace

TEST(UpgradeJob, TakesADeviceThroughEveryStepOfEveryHopKeepingItsSettings) {
  World w("8.5.1");
  Durable d;
  UpgradeJob job(target(w.device), hops_to({"9.1.0", "15.6.0"}), UpgradeJobState{}, settings());
  ASSERT_TRUE(w.run(job, d));
  EXPECT_EQ("done", job.state().status) << job.state().error;
  EXPECT_EQ("15.6.0", w.device.spec().version);
  EXPECT_EQ(2, w.received.reset6);  // one per hop, never more
  EXPECT_EQ(2, w.received.upgrade);
  EXPECT_EQ(2u, d.backups.size());  // a fresh backup at each checkpoint
  EXPECT_EQ("8.5.1", fleet::backup::read_dmp(d.backups[1]).file->version().str());
  EXPECT_EQ("9.1.0", fleet::backup::read_dmp(d.backups[2]).file->version().str());
  auto f = fields(w.device);
  EXPECT_EQ("Desk Lamp", f["friendlyname"][0]);
  EXPECT_EQ(60, f["tele_period"]);
  EXPECT_EQ(32, f["user_template"]["gpio"][0]);
  EXPECT_EQ(225, f["user_template"]["gpio"][10]);
  EXPECT_EQ(std::vector<std::string>{}, w.violations);
}

TEST(UpgradeJob, RefusesToTouchADeviceWithoutAValidBackup) {
  World w("8.5.1");
  Durable d;
  auto t = target(w.device);
  t.version = Version{8, 4, 0, 0};  // the device hands out an 8.5.1 file: not a backup of "8.4.0"
  UpgradeJob job(t, hops_to({"9.1.0"}), UpgradeJobState{}, settings());
  w.run(job, d);
  EXPECT_EQ("failed", job.state().status);
  EXPECT_NE(std::string::npos, job.state().error.find("nothing destructive was done")) << job.state().error;
  EXPECT_EQ(0, w.received.reset6);
  EXPECT_EQ(0, w.received.upgrade);
  EXPECT_EQ("Desk Lamp", fields(w.device)["friendlyname"][0]);
}

TEST(UpgradeJob, AFailedUpgradeRestoresTheSettingsOnTheOldFirmwareAndFails) {
  World w("8.5.1");
  Durable d;
  auto hops = hops_to({"9.1.0"});
  hops[0].url = "http://127.0.0.1:8070/tasmota/release-9.1.0/missing/tasmota.bin.gz";
  UpgradeJob job(target(w.device), hops, UpgradeJobState{}, settings());
  w.run(job, d);  // the device gets a 404 for this URL: "Failed File Not Found (404)"
  EXPECT_EQ("failed", job.state().status);
  EXPECT_NE(std::string::npos, job.state().error.find("File Not Found (404)")) << job.state().error;
  EXPECT_NE(std::string::npos, job.state().error.find("restored on 8.5.1")) << job.state().error;
  EXPECT_EQ("8.5.1", w.device.spec().version);
  EXPECT_EQ(1, w.received.reset6);
  EXPECT_EQ("Desk Lamp", fields(w.device)["friendlyname"][0]);  // back after the Reset 6
  EXPECT_EQ(std::vector<std::string>{}, w.violations);
}

TEST(UpgradeJob, WaitsThroughTheMinimalStepTheDeviceTakesByItself) {
  auto s = spec("7.2.0");
  s.program_kb = 500;
  s.free_kb = 250;  // the 300 KB image does not fit: Tasmota takes tasmota-minimal.bin first
  World w(s);
  Durable d;
  auto hops = hops_to({"8.5.1"});
  hops[0].url = "http://127.0.0.1:8070/tasmota/release-8.5.1/tasmota.bin";
  UpgradeJob job(target(w.device), hops, UpgradeJobState{}, settings());
  ASSERT_TRUE(w.run(job, d));
  EXPECT_EQ("done", job.state().status) << job.state().error;
  EXPECT_EQ("8.5.1", w.device.spec().version);
  EXPECT_EQ("tasmota", w.device.spec().build);  // the full build in the end
  EXPECT_EQ(1, w.received.upgrade);             // the device did the rest by itself
  EXPECT_EQ("Desk Lamp", fields(w.device)["friendlyname"][0]);
  EXPECT_EQ(std::vector<std::string>{}, w.violations);
}


// The minimal build never goes on (a fault of the simulator): the job says so instead of waiting forever,
// and never sends Upgrade 1 again. The minimal build answers no Status (support_command.ino under
// FIRMWARE_MINIMAL): its boot announcement tells the job what it is.
TEST(UpgradeJob, AMinimalBuildThatNeverFetchesTheFullImageFailsSayingSo) {
  auto s = spec("7.2.0");
  s.program_kb = 500;
  s.free_kb = 250;
  s.faults.stuck_minimal = true;
  World w(s);
  Durable d;
  auto hops = hops_to({"8.5.1"});
  hops[0].url = "http://127.0.0.1:8070/tasmota/release-8.5.1/tasmota.bin";
  UpgradeJob job(target(w.device), hops, UpgradeJobState{}, settings());
  w.run(job, d);
  EXPECT_EQ("failed", job.state().status);
  EXPECT_NE(std::string::npos, job.state().error.find("booted 8.5.1(minimal) and did not go on to the full image")) << job.state().error;
  EXPECT_EQ("minimal", w.device.spec().build);
  EXPECT_EQ(1, w.received.upgrade);
}

// An ESP32 with a single-OTA layout (a simulator fault: `safeboot`): Upgrade 1 restarts it into its
// safeboot image, which answers no Status, downloads the image itself and reports on stat/…/UPGRADE
// (support_tasmota.ino; docs/upgrade.md "Intermediate images and the waits").
DeviceSpec safeboot_esp32() {
  auto s = spec("14.2.0");
  s.chip = "ESP32";
  s.build = "tasmota32";
  s.program_kb = 1650;
  s.free_kb = 1230;
  s.settings.template_json.clear();
  s.faults.safeboot = true;
  return s;
}

std::vector<JobHop> esp32_hop() { return {{"15.0.1", "tasmota32", "http://127.0.0.1:8070/tasmota32/release-15.0.1/tasmota32.bin", kSteps}}; }

TEST(UpgradeJob, AnEsp32WithASafebootLayoutUpgradesThroughItsSafebootImage) {
  World w(safeboot_esp32());
  Durable d;
  auto t = target(w.device);
  t.chip = fleet::planner::Chip::ESP32;
  UpgradeJob job(t, esp32_hop(), UpgradeJobState{}, settings());
  ASSERT_TRUE(w.run(job, d));
  EXPECT_EQ("done", job.state().status) << job.state().error;
  EXPECT_EQ("15.0.1", w.device.spec().version);
  EXPECT_FALSE(w.device.in_safeboot());
  EXPECT_EQ(1, w.received.upgrade);
  EXPECT_EQ("Desk Lamp", fields(w.device)["friendlyname"][0]);
  EXPECT_EQ(std::vector<std::string>{}, w.violations);
}

TEST(UpgradeJob, ADownloadThatFailsInSafebootFailsTheJobNamingWhereTheDeviceIs) {
  auto s = safeboot_esp32();
  s.faults.download_fails = "Update error: Stream Read Timeout";
  World w(s);
  Durable d;
  auto t = target(w.device);
  t.chip = fleet::planner::Chip::ESP32;
  UpgradeJob job(t, esp32_hop(), UpgradeJobState{}, settings());
  w.run(job, d);
  EXPECT_EQ("failed", job.state().status);
  EXPECT_NE(std::string::npos, job.state().error.find("Upgrade failed in safeboot (Failed Update error: Stream Read Timeout)")) << job.state().error;
  EXPECT_NE(std::string::npos, job.state().error.find("stays in 14.2.0(release-safeboot)")) << job.state().error;
  EXPECT_TRUE(w.device.in_safeboot());
  EXPECT_EQ(1, w.received.upgrade);
}

// The old image boots again after "Successful" (a fault): the settings are restored on it, then the job fails.
TEST(UpgradeJob, TheOldVersionBootingAgainRestoresTheSettingsOnItAndFails) {
  auto s = spec("8.5.1");
  s.faults.keeps_old_version = true;
  World w(s);
  Durable d;
  UpgradeJob job(target(w.device), hops_to({"9.1.0"}), UpgradeJobState{}, settings());
  w.run(job, d);
  EXPECT_EQ("failed", job.state().status);
  EXPECT_NE(std::string::npos, job.state().error.find("expected 9.1.0 after the upgrade, the device reports 8.5.1")) << job.state().error;
  EXPECT_NE(std::string::npos, job.state().error.find("restored on 8.5.1")) << job.state().error;
  EXPECT_EQ("8.5.1", w.device.spec().version);
  EXPECT_EQ(1, w.received.reset6);
  EXPECT_EQ(1, w.received.upgrade);
  EXPECT_EQ("Desk Lamp", fields(w.device)["friendlyname"][0]);  // back after the Reset 6
  EXPECT_EQ(std::vector<std::string>{}, w.violations);
}

// Kill the job at every state write, both right after it and after the commands that follow it went
// out, then rebuild it from what was persisted: it finishes or stops with a reason, and never repeats
// a destructive command.
TEST(UpgradeJob, ResumesAfterBeingKilledAtAnyPointWithoutRepeatingDestructiveCommands) {
  for (bool before_commands : {false, true}) {
    for (int crash_after = 1; crash_after < 200; ++crash_after) {
      World w("8.5.1");
      Durable d;
      UpgradeJob first(target(w.device), hops_to({"9.1.0"}), UpgradeJobState{}, settings());
      if (w.run(first, d, Kill{[](const json&) { return true; }, crash_after, before_commands})) break;  // finished before: all covered
      ASSERT_TRUE(d.state) << crash_after;
      auto state = UpgradeJobState::from_json(*d.state);
      // The restarted process knows the device as the inventory does now.
      auto t = target(w.device);
      t.version = Version{8, 5, 1, 0};
      UpgradeJob second(t, hops_to({"9.1.0"}), state, settings());
      w.run(second, d);
      SCOPED_TRACE(::testing::Message() << "killed after state write " << crash_after << (before_commands ? " before" : " after")
                                        << " its commands; resumed: " << second.state().status << " " << second.state().error);
      EXPECT_LE(w.received.reset6, 1);
      EXPECT_LE(w.received.upgrade, 1);
      EXPECT_LE(w.received.uploads, 2);  // a second upload only after finding the first one had not taken
      EXPECT_EQ(std::vector<std::string>{}, w.violations);
      if (!before_commands) {
        EXPECT_EQ("done", second.state().status);
        EXPECT_EQ("9.1.0", w.device.spec().version);
        EXPECT_EQ("Desk Lamp", fields(w.device)["friendlyname"][0]);
      } else {
        // Killed between the state write and a destructive command: that command never went out and
        // is not sent now either; the job either completes or says so.
        EXPECT_TRUE(second.state().status == "done" || second.state().error.find("not sent again") != std::string::npos ||
                    second.state().error.find("restore") != std::string::npos)
            << second.state().error;
      }
    }
  }
}

// Named kill points (as Mender's state tests name theirs): where the process dies, the steps both runs
// take, and what the device received in the end.
namespace {

struct KillCase {
  std::string name;
  std::string step;  // the persisted state's step at the kill ("" once every hop is done)
  bool sent = false;
  int nth = 1;  // the nth such state write
  bool before_commands = false;
  std::vector<std::string> trail;  // the steps the first run entered, "killed", those the resumed run entered
  Received received;
  std::string status;
  std::string error;  // a part of it, when failed
};

std::ostream& operator<<(std::ostream& o, const KillCase& c) { return o << c.name; }

const std::vector<std::string> kUpToReset = {"Backup", "Reset6"};
std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
const std::vector<std::string> kUpToUpgrade = {"Backup", "Reset6", "OtaUrl", "Upgrade"};
const std::vector<std::string> kUpToHealth = cat(kUpToUpgrade, {"AwaitRestart", "VerifyVersion", "HealthCheck"});
const std::vector<std::string> kAfterHealth = {"Restore", "VerifySettings", "PutBackOtaUrl"};

const std::vector<KillCase> kKillCases = {
    {"KilledAfterResetPersisted", "Reset6", true, 1, true,
     cat(cat(kUpToReset, {"killed", "Reset6", "OtaUrl", "Upgrade", "AwaitRestart", "VerifyVersion", "HealthCheck"}), kAfterHealth),
     {0, 1, 1}, "done", ""},
    {"KilledAfterResetSent", "Reset6", true, 1, false,
     cat(cat(kUpToReset, {"killed", "Reset6", "OtaUrl", "Upgrade", "AwaitRestart", "VerifyVersion", "HealthCheck"}), kAfterHealth),
     {1, 1, 1}, "done", ""},
    {"KilledAfterOtaUrlSent", "OtaUrl", false, 1, false,
     cat({"Backup", "Reset6", "OtaUrl", "killed", "OtaUrl", "Upgrade", "AwaitRestart", "VerifyVersion", "HealthCheck"}, kAfterHealth),
     {1, 1, 1}, "done", ""},
    // Upgrade 1 announced but never out: not sent now either; after the wait for a download that is not
    // running, the settings go back on the old firmware and the job says why it stopped.
    {"KilledAfterUpgradePersisted", "Upgrade", true, 1, true, cat(kUpToUpgrade, {"killed", "Upgrade", "Restore"}), {1, 0, 1}, "failed",
     "not sent again; check the device; the settings were restored on 8.5.1"},
    {"KilledAfterUpgradeSent", "Upgrade", true, 1, false, cat(cat(kUpToUpgrade, {"killed", "Upgrade", "HealthCheck"}), kAfterHealth), {1, 1, 1},
     "done", ""},
    {"KilledAwaitingRestart", "AwaitRestart", false, 1, false,
     cat(cat(kUpToUpgrade, {"AwaitRestart", "VerifyVersion", "killed", "AwaitRestart", "VerifyVersion", "HealthCheck"}), kAfterHealth), {1, 1, 1},
     "done", ""},
    {"KilledDuringHealthCheck", "HealthCheck", false, 1, false, cat(cat(kUpToHealth, {"killed", "HealthCheck"}), kAfterHealth), {1, 1, 1}, "done", ""},
    {"KilledDuringRestore", "Restore", true, 1, false, cat(kUpToHealth, {"Restore", "killed", "Restore", "VerifySettings", "PutBackOtaUrl"}),
     {1, 1, 1}, "done", ""},
    {"KilledBeforeSettingsUploadSent", "Restore", true, 2, true, cat(kUpToHealth, {"Restore", "killed", "Restore", "VerifySettings", "PutBackOtaUrl"}),
     {1, 1, 1}, "done", ""},
    {"KilledAfterSettingsUploadSent", "Restore", true, 2, false, cat(kUpToHealth, {"Restore", "killed", "Restore", "VerifySettings", "PutBackOtaUrl"}),
     {1, 1, 1}, "done", ""},
    {"KilledPuttingBackOtaUrl", "", false, 1, false, cat(kUpToHealth, {"Restore", "VerifySettings", "PutBackOtaUrl", "killed", "PutBackOtaUrl"}),
     {1, 1, 1}, "done", ""},
};

class UpgradeJobKill : public ::testing::TestWithParam<KillCase> {};

}  // namespace

TEST_P(UpgradeJobKill, ResumesWithoutRepeatingADestructiveCommand) {
  const auto& c = GetParam();
  World w("8.5.1");
  w.device = SimDevice([] {
    auto s = spec("8.5.1");
    s.settings.ota_url = "http://192.168.1.10/tasmota.bin.gz";  // the device's own, put back at the end
    return s;
  }(), kNow);
  Durable d;
  UpgradeJob first(target(w.device), hops_to({"9.1.0"}), UpgradeJobState{}, settings());
  Kill kill{[&](const json& s) { return s["step_name"] == (c.step.empty() ? json(nullptr) : json(c.step)) && s["sent"] == c.sent; }, c.nth,
            c.before_commands};
  ASSERT_FALSE(w.run(first, d, kill)) << "the kill point was never reached";
  auto state = UpgradeJobState::from_json(*d.state);
  auto t = target(w.device);
  t.version = Version{8, 5, 1, 0};
  UpgradeJob second(t, hops_to({"9.1.0"}), state, settings());
  w.run(second, d);
  auto trail = first.trail();
  trail.push_back("killed");
  trail.insert(trail.end(), second.trail().begin(), second.trail().end());
  EXPECT_EQ(c.trail, trail);
  EXPECT_EQ(c.received.reset6, w.received.reset6);
  EXPECT_EQ(c.received.upgrade, w.received.upgrade);
  EXPECT_EQ(c.received.uploads, w.received.uploads);
  EXPECT_EQ(std::vector<std::string>{}, w.violations);
  EXPECT_EQ(c.status, second.state().status) << second.state().error;
  if (!c.error.empty()) {
    EXPECT_NE(std::string::npos, second.state().error.find(c.error)) << second.state().error;
  }
  EXPECT_EQ("Desk Lamp", fields(w.device)["friendlyname"][0]);  // the settings are back, whichever way it ended
  if (c.status == "done") {
    EXPECT_EQ("9.1.0", w.device.spec().version);
    EXPECT_EQ("http://192.168.1.10/tasmota.bin.gz", w.device.spec().settings.ota_url);
  }
}

INSTANTIATE_TEST_SUITE_P(UpgradeJobKillPoints, UpgradeJobKill, ::testing::ValuesIn(kKillCases),
                         [](const ::testing::TestParamInfo<KillCase>& i) { return i.param.name; });

TEST(UpgradeJob, PutsTheDevicesOwnOtaUrlBackAtTheEnd) {
  // Firmware that keeps its settings through the upgrade has no Restore to bring the OtaUrl back.
  auto s = spec("8.5.1");
  s.settings.ota_url = "http://192.168.1.10/tasmota.bin.gz";
  World w(s);
  Durable d;
  UpgradeJob job(target(w.device), hops_to({"9.1.0"}, kKeepSettings), UpgradeJobState{}, settings());
  ASSERT_TRUE(w.run(job, d));
  EXPECT_EQ("done", job.state().status) << job.state().error;
  EXPECT_EQ("9.1.0", w.device.spec().version);
  EXPECT_EQ("http://192.168.1.10/tasmota.bin.gz", w.device.spec().settings.ota_url);
  EXPECT_EQ("http://192.168.1.10/tasmota.bin.gz", job.state().ota_url_before.value_or("?"));
  EXPECT_EQ("PutBackOtaUrl", job.trail().back());
  EXPECT_EQ(0, w.received.reset6);
}

TEST(UpgradeJob, ASecondReset6AfterTheUpgradeWaitsForItsOwnRestart) {
  // 6.6.0.7–6.6.0.11: Reset 6 before and after the upgrade (planner); its AwaitRestart is the Reset 6's.
  World w("8.5.1");
  Durable d;
  std::vector<Step> twice = {Step::Backup,        Step::Reset6, Step::OtaUrl,       Step::Upgrade,     Step::AwaitRestart, Step::VerifyVersion,
                             Step::Reset6,        Step::AwaitRestart, Step::HealthCheck, Step::Restore, Step::VerifySettings};
  UpgradeJob job(target(w.device), hops_to({"9.1.0"}, twice), UpgradeJobState{}, settings());
  ASSERT_TRUE(w.run(job, d));
  EXPECT_EQ("done", job.state().status) << job.state().error;
  EXPECT_EQ(2, w.received.reset6);
  EXPECT_EQ(1, w.received.upgrade);
  EXPECT_EQ((std::vector<std::string>{"Backup", "Reset6", "OtaUrl", "Upgrade", "AwaitRestart", "VerifyVersion", "Reset6", "AwaitRestart",
                                      "HealthCheck", "Restore", "VerifySettings", "PutBackOtaUrl"}),
            job.trail());
  EXPECT_EQ("Desk Lamp", fields(w.device)["friendlyname"][0]);
  EXPECT_EQ(std::vector<std::string>{}, w.violations);
}

// The health stability window after the version check.
namespace {

std::vector<std::string> events_of(UpgradeJob& job, std::vector<std::string>& all) {
  auto e = job.take_events();
  all.insert(all.end(), e.begin(), e.end());
  return all;
}

std::string find_event(const std::vector<std::string>& events, const std::string& start) {
  for (auto& e : events)
    if (e.rfind(start, 0) == 0) return e;
  return "";
}

}  // namespace

TEST(UpgradeJobHealth, WatchesTheDeviceThroughTheWindowAndSaysWhatItSaw) {
  auto s = spec("8.5.1");
  s.settings.tele_period = 10;  // kept through a hop without Reset 6: STATE is due within the window
  World w(s);
  Durable d;
  UpgradeJob job(target(w.device), hops_to({"9.1.0"}, kKeepSettings), UpgradeJobState{}, settings());
  ASSERT_TRUE(w.run(job, d));
  EXPECT_EQ("done", job.state().status) << job.state().error;
  std::vector<std::string> events;
  events_of(job, events);
  // Status 11 at the start, the middle and the end, and the STATE of the window, every one read.
  std::regex shape(R"(health: (\d+) observations over 60 s, uptime (\d+)→(\d+) s, boot count (\d+), restart reason ([^,]+), STATE every 10 s)");
  std::smatch m;
  auto summary = std::find_if(events.begin(), events.end(), [&](const std::string& e) { return std::regex_search(e, m, shape); });
  ASSERT_NE(events.end(), summary) << ::testing::PrintToString(events);
  EXPECT_GE(std::stoi(m[1]), 8);  // 3 × Status 11 and about 6 STATE
  EXPECT_GE(std::stoi(m[3]) - std::stoi(m[2]), 59);
  EXPECT_EQ(std::to_string(w.device.spec().boot_count), m[4].str());
  EXPECT_EQ("Software/System restart", m[5].str());
}

TEST(UpgradeJobHealth, TelemetryIsRequiredWhenTheWindowCoversTelePeriodAndItsMargin) {
  for (std::int64_t window_s : {60, 30}) {
    auto s = spec("8.5.1");
    s.settings.tele_period = 10;
    World w(s);
    w.telemetry = false;  // the device never publishes tele STATE
    Durable d;
    auto st = settings();
    st.health_window_ms = window_s * 1000;
    UpgradeJob job(target(w.device), hops_to({"9.1.0"}, kKeepSettings), UpgradeJobState{}, st);
    w.run(job, d);
    SCOPED_TRACE(window_s);
    if (window_s == 60) {
      // 60 s covers TelePeriod 10 s + 30 s: the silence fails the hop, with what was seen.
      EXPECT_EQ("failed", job.state().status);
      EXPECT_NE(std::string::npos, job.state().error.find("health check failed: no telemetry: no tele STATE for 41 s (TelePeriod 10 s + 30 s)"))
          << job.state().error;
      EXPECT_EQ((std::vector<std::string>{"Backup", "OtaUrl", "Upgrade", "AwaitRestart", "VerifyVersion", "HealthCheck"}), job.trail());
    } else {
      EXPECT_EQ("done", job.state().status) << job.state().error;
      std::vector<std::string> events;
      events_of(job, events);
      EXPECT_NE("", find_event(events, "health: ")) << ::testing::PrintToString(events);
      bool said = false;
      for (auto& e : events) said = said || e.find("no STATE expected (TelePeriod 10 s + 30 s is longer than the window)") != std::string::npos;
      EXPECT_TRUE(said) << ::testing::PrintToString(events);
    }
  }
}

TEST(UpgradeJobHealth, ACrashDuringTheWindowRestoresTheSettingsThenFails) {
  World w("8.5.1");
  Durable d;
  std::optional<std::int64_t> health_from;
  bool crashed = false;
  w.on_tick = [&](World& world, UpgradeJob& job) -> JobEffects {
    if (job.step_name() != "HealthCheck") return {};
    if (!health_from) health_from = world.now;
    if (crashed || world.now - *health_from < 20'000) return {};
    crashed = true;
    return world.crash(job, "Exception");
  };
  UpgradeJob job(target(w.device), hops_to({"9.1.0"}), UpgradeJobState{}, settings());
  w.run(job, d);
  EXPECT_TRUE(crashed);
  EXPECT_EQ("failed", job.state().status);
  EXPECT_NE(std::string::npos, job.state().error.find("health check failed: the device went offline 2")) << job.state().error;
  EXPECT_NE(std::string::npos, job.state().error.find("; the settings were restored on 9.1.0")) << job.state().error;
  EXPECT_EQ((std::vector<std::string>{"Backup", "Reset6", "OtaUrl", "Upgrade", "AwaitRestart", "VerifyVersion", "HealthCheck", "Restore"}),
            job.trail());
  EXPECT_EQ(1, w.received.uploads);
  EXPECT_EQ("Desk Lamp", fields(w.device)["friendlyname"][0]);  // restored before failing
  EXPECT_EQ("9.1.0", w.device.spec().version);
  EXPECT_EQ(std::vector<std::string>{}, w.violations);
}

TEST(UpgradeJobHealth, ACrashOrWatchdogRestartReasonFailsTheHop) {
  // Tasmota's RestartReason is ESP_getResetReason(): arendst/Tasmota tasmota/tasmota_support/support.ino
  // lists the ESP8266 texts ("Power on", "Hardware Watchdog", "Exception", "Software Watchdog",
  // "Software/System restart", "Deep-Sleep Wake", "External System") and "Blocked Loop" after its loop
  // watchdog; tasmota_support/support_esp32.ino ESP32GetResetReason() the ESP32 ones ("Timer Group0
  // Watch dog reset digital core", "RTC Watch dog Reset CPU", …).
  for (std::string reason : {"Exception", "Hardware Watchdog", "Software Watchdog", "Blocked Loop", "Timer Group0 Watch dog reset digital core",
                             "Software/System restart", "External System"}) {
    SCOPED_TRACE(reason);
    World w("8.5.1");
    w.restart_reasons = {"Software/System restart", reason};  // Reset 6, then the boot into 9.1.0
    Durable d;
    UpgradeJob job(target(w.device), hops_to({"9.1.0"}), UpgradeJobState{}, settings());
    w.run(job, d);
    bool crash = reason != "Software/System restart" && reason != "External System";
    if (crash) {
      EXPECT_EQ("failed", job.state().status);
      EXPECT_NE(std::string::npos, job.state().error.find("the restart reason is '" + reason + "': the firmware crashed or hung")) << job.state().error;
      EXPECT_NE(std::string::npos, job.state().error.find("; the settings were restored on 9.1.0")) << job.state().error;
      EXPECT_EQ("Desk Lamp", fields(w.device)["friendlyname"][0]);
    } else {
      EXPECT_EQ("done", job.state().status) << job.state().error;
    }
  }
}

TEST(UpgradeJobHealth, ADeviceThatStopsAnsweringFailsWithoutARestore) {
  World w("8.5.1");
  Durable d;
  w.on_tick = [&](World& world, UpgradeJob& job) -> JobEffects {
    if (job.step_name() == "HealthCheck") world.mute = true;
    return {};
  };
  UpgradeJob job(target(w.device), hops_to({"9.1.0"}), UpgradeJobState{}, settings());
  w.run(job, d);
  EXPECT_EQ("failed", job.state().status);
  EXPECT_NE(std::string::npos, job.state().error.find("health check: the device does not answer Status 1")) << job.state().error;
  EXPECT_EQ(0, w.received.uploads);  // nothing is uploaded to a device that does not answer
  EXPECT_EQ("HealthCheck", job.trail().back());
}

TEST(UpgradeJobHealth, AWindowOfZeroIsTheSingleStatus11Check) {
  World w("8.5.1");
  Durable d;
  auto st = settings();
  st.health_window_ms = 0;
  UpgradeJob job(target(w.device), hops_to({"9.1.0"}), UpgradeJobState{}, st);
  ASSERT_TRUE(w.run(job, d));
  EXPECT_EQ("done", job.state().status) << job.state().error;
  std::vector<std::string> events;
  events_of(job, events);
  EXPECT_NE("", find_event(events, "health check: the device answers"));
  EXPECT_EQ("", find_event(events, "health: watching"));
}

// The persisted state, its versions, and the hops' step names.
TEST(UpgradeJobState, WritesVersion2AndReadsItBack) {
  UpgradeJobState s;
  s.hop = 1;
  s.step = 7;
  s.step_kind = Step::Restore;
  s.sent = true;
  s.current_version = "9.1.0";
  s.backup_id = 12;
  s.failed_step = Step::HealthCheck;
  s.failed_reason = "health check failed: the uptime went back";
  s.ota_url_before = "http://192.168.1.10/tasmota.bin.gz";
  auto j = s.to_json();
  EXPECT_EQ(2, j["v"]);
  EXPECT_EQ("Restore", j["step_name"]);
  EXPECT_EQ(7, j["step"]);
  EXPECT_EQ("HealthCheck", j["failure"]["step"]);
  auto back = UpgradeJobState::from_json(json::parse(j.dump()));
  EXPECT_EQ(1u, back.hop);
  EXPECT_EQ(7u, back.step);
  EXPECT_EQ(Step::Restore, back.step_kind);
  EXPECT_TRUE(back.sent);
  EXPECT_EQ("9.1.0", back.current_version);
  EXPECT_EQ(12, back.backup_id);
  EXPECT_EQ(Step::HealthCheck, back.failed_step);
  EXPECT_EQ(s.failed_reason, back.failed_reason);
  EXPECT_EQ(s.ota_url_before, back.ota_url_before);
  EXPECT_EQ(j, back.to_json());
  // Not known and nothing pending: nulls, read back as none.
  auto fresh = UpgradeJobState::from_json(UpgradeJobState{}.to_json());
  EXPECT_FALSE(fresh.ota_url_before);
  EXPECT_FALSE(fresh.failed_step);
  EXPECT_FALSE(fresh.step_kind);
}

TEST(UpgradeJobState, ReadsTheUnversionedForm) {
  // v1, as jobs stored before the version field: the step an index, a failed Upgrade by Tasmota's text.
  auto s = UpgradeJobState::from_json(json::parse(R"J({"hop": 0, "step": 7, "sent": true, "current_version": "8.5.1", "backup_id": 4,
                                                     "status": "running", "error": "", "failed_upgrade": "Failed File Not Found (404)"})J"));
  EXPECT_EQ(0u, s.hop);
  EXPECT_EQ(7u, s.step);
  EXPECT_FALSE(s.step_kind);
  EXPECT_TRUE(s.sent);
  EXPECT_EQ(4, s.backup_id);
  EXPECT_EQ(Step::Upgrade, s.failed_step);
  EXPECT_EQ("Upgrade failed (Failed File Not Found (404))", s.failed_reason);
  EXPECT_FALSE(s.ota_url_before);
  EXPECT_EQ(2, s.to_json()["v"]);  // written back as v2
  // And a v1 job goes on from it: the restore verified first, then the pending failure.
  auto r = resume_point(s, hops_to({"9.1.0"}));
  EXPECT_EQ(ResumePoint::How::VerifyFirst, r.how);
  EXPECT_EQ(7u, r.step);
}

TEST(UpgradeJobState, RefusesMalformedAndFutureStatesSayingWhy) {
  auto refused = [](const std::string& text) {
    try {
      UpgradeJobState::from_json(json::parse(text));
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  auto good = UpgradeJobState{}.to_json();
  auto with = [&](const std::string& key, json value) {
    auto j = good;
    j[key] = std::move(value);
    return j.dump();
  };
  EXPECT_NE(std::string::npos, refused(with("v", 3)).find("version 3 is newer than this program reads (up to 2)")) << refused(with("v", 3));
  EXPECT_NE(std::string::npos, refused(with("v", "2")).find("its version is not a number")) << refused(with("v", "2"));
  EXPECT_NE(std::string::npos, refused(with("v", 0)).find("unknown version 0"));
  EXPECT_NE(std::string::npos, refused(with("step_name", "Teleport")).find("unknown step 'Teleport'")) << refused(with("step_name", "Teleport"));
  EXPECT_NE(std::string::npos, refused(with("status", "exploded")).find("unknown status 'exploded'"));
  EXPECT_NE(std::string::npos, refused(with("hop", "first")).find("upgrade job state (v2) is malformed")) << refused(with("hop", "first"));
  auto no_hop = good;
  no_hop.erase("hop");
  EXPECT_NE(std::string::npos, refused(no_hop.dump()).find("malformed")) << refused(no_hop.dump());
  EXPECT_NE(std::string::npos, refused(R"({"hop": 0, "step": "1", "sent": false, "current_version": "", "backup_id": null, "status": "running"})")
                                   .find("upgrade job state (v1) is malformed"));
  EXPECT_NE(std::string::npos, refused("[1, 2]").find("not a JSON object"));
  EXPECT_EQ("accepted", refused(good.dump()));
}

TEST(UpgradeJobState, AStateThatDoesNotFitItsHopsIsRefusedAtStart) {
  World w("8.5.1");
  Durable d;
  UpgradeJobState s;
  s.step = 1;
  s.step_kind = Step::Upgrade;  // hop 1's step 2 is Reset6
  s.sent = true;
  UpgradeJob job(target(w.device), hops_to({"9.1.0"}), s, settings());
  w.run(job, d);
  EXPECT_EQ("failed", job.state().status);
  EXPECT_EQ("the stored state is at Upgrade where hop 1 has Reset6: not resumed", job.state().error);
  EXPECT_EQ(0, w.received.reset6 + w.received.upgrade + w.received.uploads);
}

TEST(UpgradeJobState, HopsKeepStepNamesAndUnknownNamesAreRefused) {
  auto hops = hops_to({"9.1.0", "15.6.0"});
  auto j = hops_to_json(hops);
  EXPECT_EQ("Reset6", j[0]["steps"][1]);
  auto back = hops_from_json(json::parse(j.dump()));
  ASSERT_EQ(2u, back.size());
  EXPECT_EQ(kSteps, back[1].steps);
  EXPECT_EQ("15.6.0", back[1].version);
  for (auto st : kSteps) EXPECT_EQ(st, fleet::planner::step_from_string(fleet::planner::to_string(st)));
  EXPECT_FALSE(fleet::planner::step_from_string("reset6"));  // exactly as written, nothing guessed
  j[1]["steps"][2] = "Reboot";
  try {
    hops_from_json(j);
    ADD_FAILURE() << "an unknown step was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string::npos, std::string(e.what()).find("stored job, hop 2: unknown step 'Reboot' (known: Backup, Reset6, OtaUrl")) << e.what();
  }
  EXPECT_THROW(hops_from_json(json::parse(R"([{"version": "9.1.0", "build": "tasmota", "steps": []}])")), std::invalid_argument);  // no url
  EXPECT_THROW(hops_from_json(json::object()), std::invalid_argument);
}

TEST(UpgradeJobEffects, ADestructiveCommandGoesOutOnlyBehindItsStateWrite) {
  using fleet::backup::DeviceAction;
  for (auto a : {DeviceAction::publish({"Reset", "6"}), DeviceAction::publish({"Upgrade", "1"}), DeviceAction::publish({"upgrade", " 1"}),
                 DeviceAction::publish({"FileUpload", R"({"Id":116,"Md5":"0123"})"}), DeviceAction::publish({"Backlog", "Status 1; Reset 6"}),
                 DeviceAction::http_post("/u2", {1, 2, 3})}) {
    EXPECT_TRUE(is_destructive(a)) << a.command.name << " " << a.command.payload;
    EXPECT_THROW(effect::Send{a}, std::logic_error) << a.command.name;
  }
  for (auto a : {DeviceAction::publish({"Status", "2"}), DeviceAction::publish({"Upgrade", ""}), DeviceAction::publish({"OtaUrl", "http://x/y.bin"}),
                 DeviceAction::publish({"FileUpload", R"({"Id":116,"Data":"AAAA"})"}), DeviceAction::http_get("/rs?")}) {
    EXPECT_FALSE(is_destructive(a)) << a.command.name << " " << a.command.payload;
    EXPECT_EQ(a.command.name, effect::Send{a}.action().command.name);
  }
  UpgradeJobState s;
  EXPECT_THROW(effect::PersistThenSend(s, DeviceAction::publish({"Reset", "6"})), std::logic_error);  // a state that does not say "sent"
  s.sent = true;
  effect::PersistThenSend p(s, DeviceAction::publish({"Reset", "6"}));
  EXPECT_TRUE(p.state().sent);
  EXPECT_EQ("Reset", p.command().command.name);
}

TEST(UpgradeJobState, ResumeRulesNeverRepeatADestructiveCommand) {
  auto hops = hops_to({"9.1.0"});
  struct Row {
    std::size_t step;
    bool sent;
    ResumePoint::How how;
    std::size_t at;  // where it resumes: an Upgrade 1 not sent yet goes back to its OtaUrl (the OTA server may be another now)
  };
  using H = ResumePoint::How;
  for (auto r : {Row{0, false, H::Fresh, 0}, Row{1, false, H::Fresh, 1}, Row{1, true, H::AlreadySent, 1}, Row{2, false, H::Fresh, 2},
                 Row{3, false, H::Fresh, 2}, Row{3, true, H::CheckVersion, 3}, Row{4, false, H::SkipWait, 4}, Row{5, false, H::Fresh, 5},
                 Row{6, false, H::Fresh, 6}, Row{7, false, H::Fresh, 7}, Row{7, true, H::VerifyFirst, 7}, Row{8, false, H::Fresh, 8}}) {
    UpgradeJobState s;
    s.step = r.step;
    s.sent = r.sent;
    auto p = resume_point(s, hops);
    EXPECT_EQ(r.how, p.how) << "step " << r.step << (r.sent ? " sent" : "");
    EXPECT_EQ(r.at, p.step) << "step " << r.step;
  }
  UpgradeJobState done;
  done.status = "failed";
  EXPECT_EQ(H::Finished, resume_point(done, hops).how);
  UpgradeJobState after;
  after.hop = 1;  // every hop done: the OtaUrl is put back again (harmless)
  EXPECT_EQ(H::Fresh, resume_point(after, hops).how);
  EXPECT_EQ(1u, resume_point(after, hops).hop);
}

// --- in-place hops (a rollout's --mode in-place) ---

namespace {

std::vector<JobHop> in_place(std::vector<JobHop> hops) {
  for (auto& h : hops) h = in_place_hop(std::move(h));
  return hops;
}

bool has_event(const std::vector<std::string>& events, const std::string& text) {
  return std::any_of(events.begin(), events.end(), [&](const std::string& e) { return e.find(text) != std::string::npos; });
}

}  // namespace

TEST(UpgradeJobInPlace, AnInPlaceHopHasNoReset6AndNoRestore) {
  auto h = in_place_hop(hops_to({"9.1.0"})[0]);
  EXPECT_TRUE(h.in_place);
  EXPECT_EQ(kKeepSettings, h.steps);
  // 6.6.0.7–6.6.0.11: the second Reset 6 goes with its own restart wait; the upgrade's wait stays.
  JobHop twice{"7.0.0", "tasmota", "http://x/tasmota.bin",
               {Step::Backup, Step::Reset6, Step::OtaUrl, Step::Upgrade, Step::AwaitRestart, Step::VerifyVersion, Step::Reset6, Step::AwaitRestart,
                Step::HealthCheck, Step::Restore, Step::VerifySettings}};
  EXPECT_EQ(kKeepSettings, in_place_hop(twice).steps);
  // Stored with the hop and read back; a clean hop is stored as before (no "mode").
  auto j = hops_to_json({h, hops_to({"9.2.0"})[0]});
  EXPECT_EQ("in-place", j[0]["mode"]);
  EXPECT_FALSE(j[1].contains("mode"));
  auto back = hops_from_json(j);
  EXPECT_TRUE(back[0].in_place);
  EXPECT_FALSE(back[1].in_place);
  j[0]["mode"] = "fast";
  EXPECT_THROW(hops_from_json(j), std::invalid_argument);
}

TEST(UpgradeJobInPlace, UpgradesWithoutReset6AndComparesTheSettingsAfterEachHop) {
  World w("8.5.1");
  Durable d;
  UpgradeJob job(target(w.device), in_place(hops_to({"9.1.0", "15.6.0"})), UpgradeJobState{}, settings());
  ASSERT_TRUE(w.run(job, d));
  auto events = job.take_events();
  EXPECT_EQ("done", job.state().status) << job.state().error << ::testing::PrintToString(events);
  EXPECT_EQ("15.6.0", w.device.spec().version);
  EXPECT_EQ(0, w.received.reset6);
  EXPECT_EQ(0, w.received.uploads);  // nothing restored: the settings stayed in flash
  EXPECT_EQ(2, w.received.upgrade);
  EXPECT_EQ(2u, d.backups.size());  // the hops' backups; the settings taken again to compare are not kept
  EXPECT_EQ(0, std::count(job.trail().begin(), job.trail().end(), "Reset6"));
  EXPECT_EQ(0, std::count(job.trail().begin(), job.trail().end(), "Restore"));
  EXPECT_EQ(2, std::count(job.trail().begin(), job.trail().end(), "VerifySettings"));
  EXPECT_TRUE(has_event(events, "verify: the settings are those of backup #1: the settings files")) << ::testing::PrintToString(events);
  EXPECT_TRUE(has_event(events, "verify: the settings are those of backup #2: the settings files")) << ::testing::PrintToString(events);
  auto f = fields(w.device);
  EXPECT_EQ("Desk Lamp", f["friendlyname"][0]);
  EXPECT_EQ(60, f["tele_period"]);
  EXPECT_EQ(std::vector<std::string>{}, w.violations);
}

// Someone changes a setting on the device while the hop runs (between the backup and the comparison).
std::function<JobEffects(World&, UpgradeJob&)> tele_period_changed_at_health_check(bool& changed) {
  return [&changed](World& world, UpgradeJob& job) -> JobEffects {
    if (job.step_name() != "HealthCheck" || changed) return {};
    changed = true;
    world.command("TelePeriod", "120");
    return {};
  };
}

TEST(UpgradeJobInPlace, ASettingChangedDuringTheHopFailsTheJobNamingIt) {
  World w("9.1.0");
  Durable d;
  bool changed = false;
  w.on_tick = tele_period_changed_at_health_check(changed);
  UpgradeJob job(target(w.device), in_place(hops_to({"9.2.0"})), UpgradeJobState{}, settings());
  w.run(job, d);
  auto events = job.take_events();
  EXPECT_TRUE(changed);
  EXPECT_EQ("failed", job.state().status);
  EXPECT_NE(std::string::npos, job.state().error.find("changed 1 setting (the settings files")) << job.state().error;
  EXPECT_NE(std::string::npos, job.state().error.find("tele_period")) << job.state().error;
  EXPECT_TRUE(has_event(events, "tele_period: before 60, now 120")) << ::testing::PrintToString(events);
  EXPECT_EQ("9.2.0", w.device.spec().version);  // left on the new firmware, as an in-place upgrade does
  EXPECT_EQ(0, w.received.reset6);
  EXPECT_EQ(0, w.received.uploads);
}

// 9.1.0 has no FileDownload; with its web server off the device gives no .dmp at all.
void without_settings_file(World& w) {
  auto s = spec("9.1.0");
  s.settings.webserver = 0;
  w.device = SimDevice(s, kNow);
}

TEST(UpgradeJobInPlace, ADeviceWithoutASettingsFileIsUpgradedWithASnapshotOnlyBackup) {
  World w("9.1.0");
  without_settings_file(w);
  Durable d;
  UpgradeJob job(target(w.device), in_place(hops_to({"9.2.0"})), UpgradeJobState{}, settings());
  ASSERT_TRUE(w.run(job, d));
  auto events = job.take_events();
  EXPECT_EQ("done", job.state().status) << job.state().error << ::testing::PrintToString(events);
  EXPECT_EQ("9.2.0", w.device.spec().version);
  ASSERT_EQ(1u, d.records.size());
  EXPECT_TRUE(d.records[1].dmp.empty());
  EXPECT_EQ("snapshot", d.records[1].method);
  EXPECT_TRUE(has_event(events, "a snapshot of command replies is the backup")) << ::testing::PrintToString(events);
  EXPECT_TRUE(has_event(events, "verify: the settings are those of backup #1: the command snapshots")) << ::testing::PrintToString(events);
  EXPECT_EQ(0, w.received.reset6);
  EXPECT_EQ(1, w.received.upgrade);
  EXPECT_EQ("Desk Lamp", fields(w.device)["friendlyname"][0]);
}

TEST(UpgradeJobInPlace, WithoutASettingsFileADifferenceInTheSnapshotFailsNamingTheCommand) {
  World w("9.1.0");
  without_settings_file(w);
  Durable d;
  bool changed = false;
  w.on_tick = tele_period_changed_at_health_check(changed);
  UpgradeJob job(target(w.device), in_place(hops_to({"9.2.0"})), UpgradeJobState{}, settings());
  w.run(job, d);
  EXPECT_EQ("failed", job.state().status);
  // Named as the reply holds it: the TelePeriod command's and Status 0's (StatusLOG) both say 120 now.
  EXPECT_NE(std::string::npos, job.state().error.find("changed 2 settings (the command snapshots (no settings file before))")) << job.state().error;
  EXPECT_NE(std::string::npos, job.state().error.find("Status 0.StatusLOG.TelePeriod")) << job.state().error;
  EXPECT_NE(std::string::npos, job.state().error.find("TelePeriod.TelePeriod")) << job.state().error;
  EXPECT_EQ("9.2.0", w.device.spec().version);
  EXPECT_EQ(0, w.received.reset6);
}

TEST(UpgradeJobInPlace, CleanModeRefusesADeviceWithoutASettingsFileWithTheHint) {
  World w("9.1.0");
  without_settings_file(w);
  Durable d;
  UpgradeJob job(target(w.device), hops_to({"9.2.0"}), UpgradeJobState{}, settings());
  w.run(job, d);
  EXPECT_EQ("failed", job.state().status);
  EXPECT_NE(std::string::npos, job.state().error.find("no valid backup, nothing destructive was done")) << job.state().error;
  EXPECT_TRUE(job.state().error.ends_with("(use --mode in-place to upgrade it without Reset 6)")) << job.state().error;
  EXPECT_EQ(0, w.received.reset6);
  EXPECT_EQ(0, w.received.upgrade);
  EXPECT_EQ("9.1.0", w.device.spec().version);
}

TEST(UpgradeJobInPlace, ResumedAtItsVerificationItLoadsTheHopsBackupAndCompares) {
  for (bool snapshot_only : {false, true}) {
    SCOPED_TRACE(snapshot_only ? "snapshot only" : "with a settings file");
    auto s = spec("9.1.0");
    if (snapshot_only) s.settings.webserver = 0;
    World w(s);
    Durable d;
    auto hops = in_place(hops_to({"9.2.0"}));
    UpgradeJob first(target(w.device), hops, UpgradeJobState{}, settings());
    ASSERT_FALSE(w.run(first, d, Kill{[](const json& st) { return st["step_name"] == "VerifySettings"; }, 1, false}));
    auto t = target(w.device);
    t.version = Version{9, 2, 0, 0};
    UpgradeJob second(t, hops, UpgradeJobState::from_json(*d.state), settings());
    ASSERT_TRUE(w.run(second, d));
    auto events = second.take_events();
    EXPECT_EQ("done", second.state().status) << second.state().error;
    EXPECT_TRUE(has_event(events, "verify: the settings are those of backup #1")) << ::testing::PrintToString(events);
    EXPECT_EQ(0, w.received.reset6);
    EXPECT_EQ(1, w.received.upgrade);
  }
}

// --- the health window's uptime check, with readings that arrive late ---

namespace {

std::vector<std::string> commands_of(const JobEffects& effects) {
  std::vector<std::string> out;
  for (auto& e : effects)
    if (auto* s = std::get_if<effect::Send>(&e)) out.push_back(s->action().command.name + " " + s->action().command.payload);
  return out;
}

// A job resumed at its health check of 9.1.0, its window 1 s.
UpgradeJob health_job() {
  auto st = settings();
  st.health_window_ms = 1000;
  UpgradeJobState s;
  s.step = 6;  // HealthCheck
  s.current_version = "9.1.0";
  s.backup_id = 1;
  return UpgradeJob(target(SimDevice(spec("9.1.0"), kNow)), hops_to({"9.1.0"}), s, st);
}

std::string status1() { return R"({"StatusPRM":{"BootCount":7,"RestartReason":"Software/System restart"}})"; }
std::string status11(int uptime_s) { return fmt::format(R"({{"StatusSTS":{{"UptimeSec":{}}}}})", uptime_s); }

}  // namespace

TEST(UpgradeJobHealth, AnUptimeThatStandsStillOverASecondFailsTheHop) {
  auto job = health_job();
  job.start(kNow);
  job.on_message(false, "STATUS1", status1(), kNow);
  job.on_message(false, "STATUS11", status11(5), kNow + 10);  // the first ask, answered at once
  auto closing = job.on_time(kNow + 1000);
  EXPECT_EQ((std::vector<std::string>{"Status 1", "Status 11"}), commands_of(closing));
  job.on_message(false, "STATUS1", status1(), kNow + 1010);
  job.on_message(false, "STATUS11", status11(5), kNow + 1020);  // asked 990 ms after the first reading: too close to tell
  EXPECT_FALSE(job.finished());
  EXPECT_EQ((std::vector<std::string>{"Status 11"}), commands_of(job.on_time(kNow + 1010)));  // a second after the first reading
  job.on_message(false, "STATUS11", status11(5), kNow + 1030);
  EXPECT_EQ("health check failed: the uptime did not increase (5 s)", job.state().failed_reason);
  EXPECT_EQ("Restore", job.step_name());  // the backup's settings go back first, then the job fails
}

TEST(UpgradeJobHealth, AFirstReadingThatArrivedLateIsNotTakenForAClockThatStands) {
  // On a busy broker or daemon a reading can be handled a second after the device took it, and the
  // closing Status 11 answered at once: the same whole second, yet the device's clock ran. The job asks
  // again once a second has surely passed since the first reading, and the hop passes.
  auto job = health_job();
  job.start(kNow);
  job.on_message(false, "STATUS1", status1(), kNow);
  job.on_message(false, "STATUS11", status11(5), kNow + 900);  // the first ask's reply, handled late
  job.on_time(kNow + 1000);
  job.on_message(false, "STATUS1", status1(), kNow + 1010);
  job.on_message(false, "STATUS11", status11(5), kNow + 1020);
  EXPECT_FALSE(job.finished());
  EXPECT_EQ(std::vector<std::string>{}, commands_of(job.on_time(kNow + 1800)));
  EXPECT_EQ((std::vector<std::string>{"Status 11"}), commands_of(job.on_time(kNow + 1900)));
  job.on_message(false, "STATUS11", status11(6), kNow + 1910);
  EXPECT_TRUE(job.state().failed_reason.empty()) << job.state().failed_reason;
  EXPECT_EQ("Restore", job.step_name());  // the hop goes on
}

TEST(UpgradeJobHealth, ALateReplyToAnEarlierStatus11IsNotTakenForTheClosingOne) {
  // The first Status 11's reply comes after the window closed: it is that ask's, taken long before the
  // closing ask, so it says nothing about whether the clock ran. The next reply is the closing one.
  auto job = health_job();
  job.start(kNow);
  job.on_message(false, "STATUS1", status1(), kNow);
  job.on_message(true, "STATE", R"({"UptimeSec":5})", kNow);  // the first reading
  EXPECT_EQ((std::vector<std::string>{"Status 1", "Status 11"}), commands_of(job.on_time(kNow + 1000)));
  job.on_message(false, "STATUS1", status1(), kNow + 1010);
  job.on_message(false, "STATUS11", status11(5), kNow + 1100);  // the first ask's, late
  EXPECT_EQ("HealthCheck", job.step_name());
  EXPECT_TRUE(job.state().failed_reason.empty()) << job.state().failed_reason;
  job.on_message(false, "STATUS11", status11(6), kNow + 1150);  // the closing ask's
  EXPECT_TRUE(job.state().failed_reason.empty()) << job.state().failed_reason;
  EXPECT_EQ("Restore", job.step_name());
}
