// The durable upgrade job against a simulated device (pure: the device's replies, HTTP, OTA and
// restarts are played by the test as the runner would), and its resumption after our process is killed
// at every point where it persists its state: it must finish, and never send Reset 6, Upgrade 1 or a
// settings upload twice.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "backup/dmp_file.h"
#include "backup/settings_layouts.h"
#include "firmware/synthetic_image.h"
#include "orchestrator/upgrade_job.h"
#include "sim/sim_device.h"

using namespace fleet::orchestrator;
using namespace fleet::sim;
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

const std::vector<std::string> kSteps = {"Backup", "Reset6", "OtaUrl", "Upgrade", "AwaitRestart", "VerifyVersion", "HealthCheck", "Restore", "VerifySettings"};

std::vector<JobHop> hops_to(std::vector<std::string> versions) {
  std::vector<JobHop> hops;
  for (auto& v : versions) hops.push_back({v, "tasmota", "http://127.0.0.1:8070/tasmota/release-" + v + "/tasmota.bin.gz", kSteps});
  return hops;
}

// Our side of the world: the backups kept and the last persisted job state, which survive a "kill".
struct Durable {
  std::map<std::int64_t, std::vector<std::uint8_t>> backups;
  std::optional<json> state;
};

struct Counts {
  int reset6 = 0, upgrade = 0, uploads = 0;
};

class World {
 public:
  explicit World(const std::string& version) : device(spec(version), kNow) {}
  SimDevice device;
  std::int64_t now = kNow;
  Counts sent;

  // Runs `job` until it finishes or until it has persisted `crash_after` states (then "kills" it:
  // returns false, leaving the device as it is). `before_commands`: the kill comes right after the
  // state write, before the commands of the same batch go out.
  bool run(UpgradeJob& job, Durable& d, int crash_after = -1, bool before_commands = false) {
    std::vector<JobAction> queue = job.start(now);
    int persisted = 0;
    for (int guard = 0; guard < 5000 && !job.finished(); ++guard) {
      if (queue.empty()) {
        now += 1000;
        queue = job.on_time(now);
        continue;
      }
      auto a = queue.front();
      queue.erase(queue.begin());
      std::vector<JobAction> more;
      switch (a.kind) {
        case JobAction::Kind::Persist:
          d.state = a.state.to_json();
          if (++persisted == crash_after) {
            if (!before_commands) {
              // The rest of this batch still reaches the device before the process dies.
              for (auto& rest : queue)
                if (rest.kind == JobAction::Kind::Device) device_action(job, rest, /*feed=*/false);
            }
            return false;
          }
          break;
        case JobAction::Kind::StoreBackup: {
          auto id = static_cast<std::int64_t>(d.backups.size() + 1);
          d.backups[id] = a.record.dmp;
          more = job.on_backup_stored(id, now);
          break;
        }
        case JobAction::Kind::LoadBackup: {
          auto it = d.backups.find(a.backup_id);
          more = job.on_backup_loaded(it == d.backups.end() ? std::nullopt : std::optional(it->second), now);
          break;
        }
        case JobAction::Kind::Device: more = device_action(job, a, true); break;
        case JobAction::Kind::Finished: break;
      }
      queue.insert(queue.end(), more.begin(), more.end());
    }
    return job.finished();
  }

 private:
  std::vector<JobAction> feed(UpgradeJob& job, const Outgoing& p, bool on) {
    if (!on) return {};
    bool tele = p.topic.rfind("tele/", 0) == 0 || p.topic.find("/tele/") != std::string::npos;
    return job.on_message(tele, p.topic.substr(p.topic.rfind('/') + 1), p.payload, now);
  }

  std::vector<JobAction> restart(UpgradeJob& job, bool on) {
    auto out = feed(job, {device.lwt_topic(), "Offline", true}, on);
    now += 1500;
    device.reboot(now);
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

  std::vector<JobAction> ota(UpgradeJob& job, const std::string& url, bool on) {
    auto at = url.find("release-");
    auto version = url.substr(at + 8, url.find('/', at) - at - 8);
    bool minimal = url.find("-minimal") != std::string::npos;
    auto image = fleet::firmware::make_image({fleet::planner::Chip::ESP8266, version, minimal ? "tasmota-minimal" : "tasmota",
                                              static_cast<std::size_t>((minimal ? 200 : 300) * 1024), url.ends_with(".gz")});
    bool missing = url.find("missing") != std::string::npos;  // an image the server does not have
    auto r = device.ota_downloaded(missing ? OtaDownload{url, 404, {}} : OtaDownload{url, 200, image}, now);
    std::vector<JobAction> out;
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

  std::vector<JobAction> device_action(UpgradeJob& job, const JobAction& a, bool on) {
    std::vector<JobAction> out;
    auto& da = a.device;
    if (da.kind == fleet::backup::DeviceAction::Kind::Publish) {
      if (da.command.name == "Reset" && da.command.payload == "6") ++sent.reset6;
      if (da.command.name == "Upgrade" && da.command.payload == "1") ++sent.upgrade;
      if (da.command.name == "FileUpload" && da.command.payload.find("Md5") != std::string::npos) ++sent.uploads;
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
        ++sent.uploads;
      }
      auto reply = device.web(req);
      if (on) out = reply.status == 200 ? job.on_http(200, reply.body, "", now) : job.on_http(reply.status, std::nullopt, "HTTP error", now);
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
  EXPECT_EQ(2, w.sent.reset6);  // one per hop, never more
  EXPECT_EQ(2, w.sent.upgrade);
  EXPECT_EQ(2u, d.backups.size());  // a fresh backup at each checkpoint
  EXPECT_EQ("8.5.1", fleet::backup::read_dmp(d.backups[1]).file->version().str());
  EXPECT_EQ("9.1.0", fleet::backup::read_dmp(d.backups[2]).file->version().str());
  auto f = fields(w.device);
  EXPECT_EQ("Desk Lamp", f["friendlyname"][0]);
  EXPECT_EQ(60, f["tele_period"]);
  EXPECT_EQ(32, f["user_template"]["gpio"][0]);
  EXPECT_EQ(225, f["user_template"]["gpio"][10]);
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
  EXPECT_EQ(0, w.sent.reset6);
  EXPECT_EQ(0, w.sent.upgrade);
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
  EXPECT_EQ(1, w.sent.reset6);
  EXPECT_EQ("Desk Lamp", fields(w.device)["friendlyname"][0]);  // back after the Reset 6
}

TEST(UpgradeJob, WaitsThroughTheMinimalStepTheDeviceTakesByItself) {
  auto s = spec("7.2.0");
  s.program_kb = 500;
  s.free_kb = 250;  // the 300 KB image does not fit: Tasmota takes tasmota-minimal.bin first
  World w("7.2.0");
  w.device = SimDevice(s, kNow);
  Durable d;
  auto hops = hops_to({"8.5.1"});
  hops[0].url = "http://127.0.0.1:8070/tasmota/release-8.5.1/tasmota.bin";
  UpgradeJob job(target(w.device), hops, UpgradeJobState{}, settings());
  ASSERT_TRUE(w.run(job, d));
  EXPECT_EQ("done", job.state().status) << job.state().error;
  EXPECT_EQ("8.5.1", w.device.spec().version);
  EXPECT_EQ("tasmota", w.device.spec().build);  // the full build in the end
  EXPECT_EQ(1, w.sent.upgrade);                 // the device did the rest by itself
  EXPECT_EQ("Desk Lamp", fields(w.device)["friendlyname"][0]);
}

// Kill the job at every state write, both right after it and after the commands that follow it went
// out, then rebuild it from what was persisted: it finishes or stops with a reason, and never repeats
// a destructive command.
TEST(UpgradeJob, ResumesAfterBeingKilledAtAnyPointWithoutRepeatingDestructiveCommands) {
  for (bool before_commands : {false, true}) {
    for (int crash_after = 1; crash_after < 40; ++crash_after) {
      World w("8.5.1");
      Durable d;
      UpgradeJob first(target(w.device), hops_to({"9.1.0"}), UpgradeJobState{}, settings());
      if (w.run(first, d, crash_after, before_commands)) break;  // finished before this crash point: all covered
      ASSERT_TRUE(d.state) << crash_after;
      auto state = UpgradeJobState::from_json(*d.state);
      // The restarted process knows the device as the inventory does now.
      auto t = target(w.device);
      t.version = Version{8, 5, 1, 0};
      UpgradeJob second(t, hops_to({"9.1.0"}), state, settings());
      w.run(second, d);
      SCOPED_TRACE(::testing::Message() << "killed after state write " << crash_after << (before_commands ? " before" : " after")
                                        << " its commands; resumed: " << second.state().status << " " << second.state().error);
      EXPECT_LE(w.sent.reset6, 1);
      EXPECT_LE(w.sent.upgrade, 1);
      EXPECT_LE(w.sent.uploads, 2);  // a second upload only after finding the first one had not taken
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
