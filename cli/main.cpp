// tasmota-fleet: the daemon (serve) and the command line (devices, …). See README.md and docs/.
#include <CLI/CLI.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/device_table.h"
#include "cli/backup_cmd.h"
#include "cli/diff_cmd.h"
#include "cli/forget_cmd.h"
#include "core/runtime_failure.h"
#include "orchestrator/backup_schedule.h"
#include "cli/restore_cmd.h"
#include "cli/settings_file_cmd.h"
#include "cli/rollout_cmd.h"
#include "cli/jobs_view.h"
#include "cli/firmware_cmd.h"
#include "cli/firmware_plan_cmd.h"
#include "firmware/firmware_store.h"
#include "firmware/ota_server.h"
#include "store/sqlite_firmware_index.h"
#include <ifaddrs.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <mutex>
#include "cli/plan_view.h"
#include "planner/catalog.h"
#include "planner/upgrade_plan.h"
#include "inventory/inventory.h"
#include "core/log.h"
#include "mqtt/broker_config.h"
#include "mqtt/paho_transport.h"
#include "mqtt/topic_scheme.h"
#include "orchestrator/daemon.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_inventory_store.h"

namespace {

std::atomic<bool> g_stop{false}, g_stop_now{false};
// The first SIGTERM or Ctrl-C stops after the device jobs in flight reach a safe point; a second, at once.
void on_signal(int) {
  if (g_stop) g_stop_now = true;
  g_stop = true;
}

struct Settings {
  fleet::mqtt::BrokerConfig broker;
  std::string password_file;
  std::string db_path = "tasmota-fleet.db";
  std::string full_topic = "%prefix%/%topic%/";
  std::string prefix_cmnd = "cmnd", prefix_stat = "stat", prefix_tele = "tele";
  std::string log_level = "info";
  fleet::inventory::InventoryOptions inventory;
  double exit_after_s = 0;
  double stop_timeout_s = 240;
  std::string metrics_file;
  std::string metrics_listen;
  std::string backup_every;
  std::string ha_discovery = "on";
  std::string ha_prefix = "homeassistant";
  std::string ha_status_topic = "homeassistant/status";
  std::int64_t serve_health_window = 60;
  int backup_keep = 0;
  double stats_every_s = 30;
  bool json = false;
  // plan
  std::string catalog_file;
  std::string ota_base;
  std::string to = "latest", to_build, from, from_build, chip = "esp8266";
  int free_kb = -1, program_kb = -1, program_flash_kb = -1;
  bool all = false;
  // firmware store and OTA server
  fleet::cli::FirmwareOptions fw;
  std::string ota_listen = "0.0.0.0:8070";
  std::string ota_url;  // advertised base; empty: derived from ota_listen
  int ota_threads = 128;
  bool no_ota = false;
  // backups
  fleet::cli::BackupOptions backup;
  std::string device_password_file, web_password_file;
  bool no_rollouts = false;
  std::string api_base = "tasmota-fleet";  // control API and state topics: <api_base>/v1/…
};

fleet::log::Level parse_level(const std::string& s) {
  if (s == "debug") return fleet::log::Level::Debug;
  if (s == "warn") return fleet::log::Level::Warn;
  if (s == "error") return fleet::log::Level::Error;
  if (s == "off") return fleet::log::Level::Off;
  return fleet::log::Level::Info;
}

std::string read_secret(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read password file " + path);
  std::string s;
  std::getline(in, s);
  return s;
}


int devices(const Settings& st, const std::vector<std::string>& filter) {
  namespace inventory = fleet::inventory;
  namespace fs_store = fleet::store;
  namespace cli = fleet::cli;
  if (!std::filesystem::exists(st.db_path)) {
    std::cerr << "tasmota-fleet: no inventory at " << st.db_path
              << " yet: run 'tasmota-fleet serve' (or pass --db)\n";
    return 1;
  }
  fs_store::Database db(st.db_path);
  fs_store::migrate(db);  // an inventory written by an older version is upgraded in place
  fs_store::SqliteInventoryStore store(db);
  auto all = store.load_devices();
  if (!filter.empty()) {
    std::vector<inventory::DeviceRecord> picked;
    for (auto& d : all)
      for (const auto& f : filter)
        if (d.mac == f || d.topic == f || d.hostname == f) {
          picked.push_back(d);
          break;
        }
    all = std::move(picked);
  }
  auto now = fleet::core::SystemClock().now_ms();
  if (st.json) {
    std::cout << cli::render_json(all);
    return 0;
  }
  if (auto d = store.daemon_status()) {
    bool live = now - d->heartbeat_ms < 10'000 && d->connected;
    std::cout << "daemon: " << (live ? "running" : "not running") << ", last heartbeat " << cli::ago(d->heartbeat_ms, now)
              << ", broker " << d->broker << "\n";
  } else {
    std::cout << "daemon: never ran on this inventory\n";
  }
  std::cout << cli::render_table(all, now);
  return 0;
}

// The inventory rows for names (MAC, topic or hostname) or --all; an unknown name is an error.
std::vector<fleet::inventory::DeviceRecord> select_devices(const Settings& st, const std::vector<std::string>& names) {
  namespace fs_store = fleet::store;
  if (names.empty() && !st.all) throw std::runtime_error("name devices (MAC, topic or hostname), or --all");
  fs_store::Database db(st.db_path);
  fs_store::migrate(db);
  fs_store::SqliteInventoryStore store(db);
  auto all = store.load_devices();
  if (st.all) return all;
  std::vector<fleet::inventory::DeviceRecord> picked;
  for (const auto& n : names) {
    auto it = std::find_if(all.begin(), all.end(), [&](const auto& d) { return d.mac == n || d.topic == n || d.hostname == n; });
    if (it == all.end()) throw std::runtime_error("no device '" + n + "' in the inventory (" + st.db_path + ")");
    picked.push_back(*it);
  }
  return picked;
}

// What device jobs run with: the broker (our own credentials), the topic layout and the devices' access.
fleet::cli::BackupOptions backup_options(Settings st) {
  if (!st.password_file.empty()) st.broker.password = read_secret(st.password_file);
  auto o = st.backup;
  o.db = st.db_path;
  o.run.broker = st.broker;
  o.run.scheme = fleet::mqtt::TopicScheme(st.full_topic, st.prefix_cmnd, st.prefix_stat, st.prefix_tele);
  // The devices' own MqttPassword: by default the one we connect with (a fleet sharing one account).
  if (!st.device_password_file.empty()) o.access.mqtt_password = read_secret(st.device_password_file);
  else if (o.access.mqtt_password.empty()) o.access.mqtt_password = st.broker.password;
  if (!st.web_password_file.empty()) o.access.web_password = read_secret(st.web_password_file);
  return o;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What the daemon's composition needs from the command line's settings (serve, and in-process runs).
fleet::orchestrator::DaemonOptions daemon_options(Settings& st) {
  fleet::orchestrator::DaemonOptions o;
  if (!st.password_file.empty()) st.broker.password = read_secret(st.password_file);
  o.broker = st.broker;
  o.scheme = fleet::mqtt::TopicScheme(st.full_topic, st.prefix_cmnd, st.prefix_stat, st.prefix_tele);
  o.db_path = st.db_path;
  o.inventory = st.inventory;
  o.exit_after_s = st.exit_after_s;
  o.stop_timeout_s = st.stop_timeout_s;
  o.stop_now = &g_stop_now;
  o.metrics_file = st.metrics_file;
  o.metrics_listen = st.metrics_listen;
  if (!st.backup_every.empty()) {
    auto s = fleet::orchestrator::parse_duration_s(st.backup_every);
    if (!s) throw std::runtime_error("--backup-every: '" + st.backup_every + "' is not a duration (24h, 30m, 90s, 7d)");
    o.backup_every_s = *s;
  }
  o.backup_keep = st.backup_keep;
  if (st.ha_discovery != "on" && st.ha_discovery != "off") throw std::runtime_error("--ha-discovery: on or off, not '" + st.ha_discovery + "'");
  o.ha_discovery = st.ha_discovery == "on";
  o.ha_prefix = st.ha_prefix;
  o.ha_status_topic = st.ha_status_topic;
  o.ha_install_spec = {{"health_window_s", st.serve_health_window}};
  o.stats_every_s = st.stats_every_s;
  o.firmware_dir = st.fw.dir;
  o.ota_listen = st.ota_listen;
  o.ota_url = st.ota_url;
  o.ota_threads = st.ota_threads;
  o.no_ota = st.no_ota;
  o.catalog = fleet::planner::Catalog::builtin();
  if (!st.catalog_file.empty()) o.catalog.merge(fleet::planner::Catalog::parse(read_text(st.catalog_file)));
  o.ota_base = st.ota_base;
  o.api_base = st.api_base;
  o.rollouts = !st.no_rollouts;
  auto base = backup_options(st);
  auto credentials = fleet::cli::load_credentials(base);
  o.access_for = [base, credentials](const fleet::inventory::DeviceRecord& d, const nlohmann::json& access) {
    auto b = base;
    // A rollout's own access options (from its request) over the process's.
    if (access.is_object()) {
      if (access.contains("web_port") && access["web_port"].is_number_integer()) b.access.web_port = access["web_port"].get<int>();
      if (access.contains("web_user") && access["web_user"].is_string()) b.access.web_user = access["web_user"].get<std::string>();
      if (access.contains("web_password") && access["web_password"].is_string()) b.access.web_password = access["web_password"].get<std::string>();
      if (access.contains("mqtt_password") && access["mqtt_password"].is_string())
        b.access.mqtt_password = access["mqtt_password"].get<std::string>();
    }
    return fleet::cli::access_for(b, credentials, d);
  };
  return o;
}

int serve(Settings& st) {
  auto o = daemon_options(st);
  return fleet::orchestrator::run_daemon(o, g_stop);
}

using fleet::orchestrator::fit_of;

// The plans for the devices named (or --all, or the hypothetical --from device), with what each device
// reported about its room for images.
std::vector<fleet::cli::PlannedDevice> collect_plans(const Settings& st, const std::vector<std::string>& names,
                                                     const fleet::planner::Catalog& catalog) {
  namespace fp = fleet::planner;
  namespace fs_store = fleet::store;
  fp::PlanRequest req;
  if (st.to != "latest") {
    auto v = fp::Version::parse(st.to);
    if (!v) throw std::runtime_error("--to: '" + st.to + "' is not a version (or 'latest')");
    req.target = *v;
  }
  req.target_build = st.to_build;
  fp::Planner planner(catalog);
  std::vector<fleet::cli::PlannedDevice> plans;
  if (!st.from.empty()) {
    auto v = fp::Version::parse(st.from);
    if (!v) throw std::runtime_error("--from: '" + st.from + "' is not a version");
    fp::DeviceState d;
    d.name = "(" + st.from + ")";
    d.version = *v;
    d.build = st.from_build.empty() ? "" : fleet::planner::normalize_build(st.from_build);
    d.chip = fp::parse_chip(st.chip);
    if (d.chip == fp::Chip::Unknown) throw std::runtime_error("--chip: '" + st.chip + "' is not a chip (esp8266, esp32, esp32c3, …)");
    fleet::firmware::DeviceFit fit;
    fit.chip = d.chip;
    if (st.free_kb >= 0) d.free_kb = fit.free_kb = st.free_kb;
    if (st.program_kb >= 0) d.program_kb = fit.program_kb = st.program_kb;
    if (st.program_flash_kb >= 0) d.program_flash_kb = st.program_flash_kb;
    plans.push_back({planner.plan(d, req), fit});
    return plans;
  }
  if (names.empty() && !st.all) throw std::runtime_error("name devices (MAC, topic or hostname), or --all, or --from VERSION");
  if (!std::filesystem::exists(st.db_path)) throw std::runtime_error("no inventory at " + st.db_path + ": run 'tasmota-fleet serve' first (or --from)");
  fs_store::Database db(st.db_path);
  fs_store::migrate(db);
  fs_store::SqliteInventoryStore store(db);
  auto all = store.load_devices();
  if (st.all) {
    for (const auto& d : all) plans.push_back({fleet::cli::plan_device(planner, d, req), fit_of(d)});
    return plans;
  }
  for (const auto& n : names) {
    auto it = std::find_if(all.begin(), all.end(), [&](const auto& d) { return d.mac == n || d.topic == n || d.hostname == n; });
    if (it == all.end()) {
      fp::UpgradePlan missing;
      missing.device = n;
      missing.error = n + ": no such device in the inventory";
      plans.push_back({missing, {}});
    } else {
      plans.push_back({fleet::cli::plan_device(planner, *it, req), fit_of(*it)});
    }
  }
  return plans;
}

// The catalog plans use: the built-in one, a local catalog over it, and image URLs on --ota-base or,
// while `serve` runs its OTA server, on that server.
fleet::planner::Catalog plan_catalog(const Settings& st) {
  namespace fp = fleet::planner;
  namespace fs_store = fleet::store;
  fp::Catalog catalog = fp::Catalog::builtin();
  if (!st.catalog_file.empty()) catalog.merge(fp::Catalog::parse(read_text(st.catalog_file)));
  if (!st.ota_base.empty()) {
    catalog.set_ota_base(st.ota_base);
  } else if (std::filesystem::exists(st.db_path)) {
    // While `serve` runs its OTA server, plans point at it.
    fs_store::Database db(st.db_path);
    fs_store::migrate(db);
    auto d = fs_store::SqliteInventoryStore(db).daemon_status();
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (d && !d->ota_base.empty() && now - d->heartbeat_ms < 15000) catalog.set_ota_base(d->ota_base);
  }
  return catalog;
}

// Exit status: 0 every device planned, 3 when any could not be (each says why), 2 bad usage.
int plan(const Settings& st, const std::vector<std::string>& names) {
  namespace fp = fleet::planner;
  fp::Catalog catalog = plan_catalog(st);
  std::vector<fp::UpgradePlan> plans;
  for (auto& pd : collect_plans(st, names, catalog)) plans.push_back(std::move(pd.plan));
  std::cout << (st.json ? fleet::cli::render_plans_json(plans) : fleet::cli::render_plans_text(plans));
  bool any_failed = std::any_of(plans.begin(), plans.end(), [](const auto& p) { return !p.ok(); });
  return any_failed ? 3 : 0;
}

// The interface gives --build twice: before --to it is the device's build (with --from), after
// --to the target's. Rewritten here to --from-build / --to-build before CLI11 sees them.
std::vector<std::string> rewrite_plan_args(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  bool in_plan = false, seen_to = false, seen_from = false;
  for (auto& a : args) {
    if (a == "plan" || a == "fetch" || a == "check" || a == "upgrade") in_plan = true;
    if (!in_plan) continue;
    if (a == "--to" || a.rfind("--to=", 0) == 0) seen_to = true;
    if (a == "--from" || a.rfind("--from=", 0) == 0) seen_from = true;
    if (a == "--build") a = (seen_from && !seen_to) ? "--from-build" : "--to-build";
    else if (a.rfind("--build=", 0) == 0) a = ((seen_from && !seen_to) ? "--from-build=" : "--to-build=") + a.substr(8);
  }
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tasmota-fleet: upgrade a fleet of Tasmota devices over MQTT, keeping every setting"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("tasmota-fleet ") + FLEET_VERSION);
  Settings st;
  // CLI11 reads the config file before the environment, so the file named by TASMOTA_FLEET_CONFIG
  // becomes the option's default here; a file named there must exist.
  const char* env_config = std::getenv("TASMOTA_FLEET_CONFIG");
  if (env_config && *env_config && !std::filesystem::exists(env_config)) {
    std::cerr << "tasmota-fleet: TASMOTA_FLEET_CONFIG names " << env_config << ", which does not exist\n";
    return 2;
  }
  app.set_config("--config", env_config ? env_config : "", "configuration file (key = value; see docs/configuration.md)");
  auto env = [](const char* name) { return std::string("TASMOTA_FLEET_") + name; };
  app.add_option("--db", st.db_path, "inventory database (SQLite)")->envname(env("DB"))->capture_default_str();
  app.add_option("--log-level", st.log_level, "debug, info, warn, error, off")->envname(env("LOG_LEVEL"));
  app.add_option("--broker", st.broker.url, "broker URL: mqtt://host[:port] or mqtts://host[:port]")
      ->envname(env("BROKER"))
      ->capture_default_str();
  app.add_option("--client-id", st.broker.client_id, "MQTT client id")->envname(env("CLIENT_ID"))->capture_default_str();
  app.add_option("--username", st.broker.username, "MQTT user name")->envname(env("USERNAME"));
  // No default shown and never logged.
  app.add_option("--password", st.broker.password, "MQTT password (prefer --password-file or the environment)")
      ->envname(env("PASSWORD"));
  app.add_option("--password-file", st.password_file, "file whose first line is the MQTT password")
      ->envname(env("PASSWORD_FILE"));
  app.add_option("--ca-file", st.broker.ca_file, "CA certificate(s) to verify an mqtts:// broker")->envname(env("CA_FILE"));
  app.add_option("--cert-file", st.broker.cert_file, "TLS client certificate")->envname(env("CERT_FILE"));
  app.add_option("--key-file", st.broker.key_file, "TLS client key")->envname(env("KEY_FILE"));
  app.add_flag("--insecure", st.broker.insecure, "TLS without verifying the broker (testing only)")->envname(env("INSECURE"));
  app.add_option("--full-topic", st.full_topic, "the devices' FullTopic pattern")->envname(env("FULL_TOPIC"))->capture_default_str();
  app.add_option("--prefix-cmnd", st.prefix_cmnd, "command prefix")->envname(env("PREFIX_CMND"))->capture_default_str();
  app.add_option("--prefix-stat", st.prefix_stat, "status prefix")->envname(env("PREFIX_STAT"))->capture_default_str();
  app.add_option("--prefix-tele", st.prefix_tele, "telemetry prefix")->envname(env("PREFIX_TELE"))->capture_default_str();
  app.add_option("--api-base", st.api_base, "topic base of the control API and state topics (<base>/v1/control …)")
      ->envname(env("API_BASE"))
      ->capture_default_str();

  auto* serve_cmd = app.add_subcommand("serve", "run the daemon: live inventory of every Tasmota device on the broker");
  serve_cmd->fallthrough();
  serve_cmd->add_option("--status-rate", st.inventory.status_queries_per_s, "Status 0 queries per second, fleet-wide")
      ->capture_default_str();
  serve_cmd->add_option("--max-payload", st.inventory.max_payload_bytes, "largest MQTT payload read (bytes)")
      ->capture_default_str();
  serve_cmd->add_option("--exit-after", st.exit_after_s, "stop cleanly after this many seconds (0 = run until signalled)");
  serve_cmd->add_option("--stats-every", st.stats_every_s, "log ingest figures every N seconds (0 = never)");
  serve_cmd->add_option("--metrics-file", st.metrics_file, "write ingest figures and peak memory here (JSON) on exit");
  serve_cmd->add_option("--ota-listen", st.ota_listen, "the built-in OTA server's HOST:PORT (port 0: any free port)")
      ->envname(env("OTA_LISTEN"))
      ->capture_default_str();
  serve_cmd->add_option("--ota-url", st.ota_url, "the URL base devices reach the OTA server at (default: http://<this host's IPv4>:PORT)")
      ->envname(env("OTA_URL"));
  serve_cmd->add_option("--ota-threads", st.ota_threads, "concurrent downloads the OTA server serves")->capture_default_str();
  serve_cmd->add_flag("--no-ota", st.no_ota, "do not run the built-in OTA server")->envname(env("NO_OTA"));
  serve_cmd->add_option("--metrics-listen", st.metrics_listen, "serve Prometheus metrics on HOST:PORT/metrics and health on /healthz (off by default)")
      ->envname(env("METRICS_LISTEN"));
  serve_cmd->add_option("--ha-discovery", st.ha_discovery, "Home Assistant MQTT discovery: on or off")
      ->envname(env("HA_DISCOVERY"))
      ->capture_default_str();
  serve_cmd->add_option("--ha-prefix", st.ha_prefix, "Home Assistant's discovery prefix")->envname(env("HA_PREFIX"))->capture_default_str();
  serve_cmd->add_option("--ha-status-topic", st.ha_status_topic, "Home Assistant's birth message topic")
      ->envname(env("HA_STATUS_TOPIC"))
      ->capture_default_str();
  serve_cmd->add_option("--health-window", st.serve_health_window,
                        "for upgrades the daemon starts itself (Home Assistant's Install): seconds a device must stay healthy after each hop")
      ->capture_default_str();
  serve_cmd->add_option("--backup-every", st.backup_every, "back up every device this often (24h, 30m, 7d), spread over the period; off by default")
      ->envname(env("BACKUP_EVERY"));
  serve_cmd->add_option("--keep", st.backup_keep, "with --backup-every: keep the newest N backups per device (0: all)");
  serve_cmd->add_option("--stop-timeout", st.stop_timeout_s,
                        "at SIGTERM or Ctrl-C, wait up to this many seconds for device jobs in flight to reach a safe point")
      ->capture_default_str();
  serve_cmd->add_flag("--no-rollouts", st.no_rollouts, "inventory and OTA server only: no control API, rollouts are driven by the command line");

  auto* devices_cmd = app.add_subcommand("devices", "show the inventory (works whether or not the daemon runs)");
  devices_cmd->fallthrough();
  std::vector<std::string> filter;
  devices_cmd->add_flag("--json", st.json, "one JSON array, every field");
  devices_cmd->add_option("device", filter, "only these devices (MAC, topic or hostname)");

  auto* plan_cmd = app.add_subcommand("plan", "show what exactly will happen to each device to get it to a version or build");
  plan_cmd->fallthrough();
  std::vector<std::string> plan_names;
  // The plan's options, shared by plan, firmware fetch and firmware check.
  auto plan_options = [&](CLI::App* cmd) {
    cmd->add_option("--to", st.to, "target version, or latest")->capture_default_str();
    cmd->add_option("--to-build", st.to_build, "target build (default: keep the device's; --build after --to)");
    cmd->add_option("--from", st.from, "plan a hypothetical device running this version (no broker needed)");
    cmd->add_option("--from-build", st.from_build, "its build (--build before --to)");
    cmd->add_option("--chip", st.chip, "its chip: esp8266, esp8285, esp32, esp32s2, esp32s3, esp32c3, …")->capture_default_str();
    cmd->add_option("--free-kb", st.free_kb, "its free program space (Status 4 Free)");
    cmd->add_option("--program-kb", st.program_kb, "its running image size (Status 4 ProgramSize)");
    cmd->add_option("--program-flash-kb", st.program_flash_kb, "its program partition (Status 4 ProgramFlashSize)");
    cmd->add_flag("--all", st.all, "every device of the inventory");
    cmd->add_option("device", plan_names, "devices of the inventory (MAC, topic or hostname)");
  };
  plan_options(plan_cmd);
  plan_cmd->add_flag("--json", st.json, "one JSON object per device");
  st.fw.dir = "tasmota-fleet-firmware";
  app.add_option("--firmware-dir", st.fw.dir, "the firmware store's folder")->envname(env("FIRMWARE_DIR"))->capture_default_str();
  auto* fw_cmd = app.add_subcommand("firmware", "the local firmware store: add, list, verify");
  fw_cmd->require_subcommand(1);
  fw_cmd->fallthrough();
  auto* fw_add = fw_cmd->add_subcommand("add", "check an image and add it to the store");
  std::string fw_file;
  fw_add->add_option("file", fw_file, "the image (.bin or .bin.gz)")->required();
  fw_add->add_option("--version", st.fw.version, "its Tasmota version")->required();
  fw_add->add_option("--build", st.fw.build, "its build (tasmota, tasmota-lite, tasmota-minimal, tasmota32c3, …)")->required();
  fw_add->add_option("--chip", st.fw.chip, "its chip (default: read from the image)");
  fw_add->add_option("--path", st.fw.path, "where below the store (default: the OTA server's layout, from the catalog)");
  fw_add->add_option("--sha256", st.fw.sha256, "refuse the file unless it has this SHA-256");
  auto* fw_list = fw_cmd->add_subcommand("list", "the images in the store");
  fw_list->add_flag("--json", st.fw.json, "one JSON array");
  auto* fw_verify = fw_cmd->add_subcommand("verify", "re-hash every image and report mismatches");
  auto* fw_fetch = fw_cmd->add_subcommand("fetch", "download the images a plan needs from upstream into the store");
  plan_options(fw_fetch);
  std::string upstream;
  fw_fetch->add_option("--upstream", upstream, "download from this base URL instead of the catalog's (a mirror)");
  auto* fw_check = fw_cmd->add_subcommand("check", "check that every image a plan needs is in the store and fits its device");
  plan_options(fw_check);
  for (auto* c : {fw_add, fw_list, fw_verify, fw_fetch, fw_check}) c->fallthrough();
  app.add_option("--catalog", st.catalog_file, "local catalog file adding releases/builds (docs/planner.md)")->envname(env("CATALOG"));

  // Backups (docs/backups.md).
  auto* backup_cmd = app.add_subcommand("backup", "take a validated backup of devices' configuration (and export one: backup export ID)");
  std::vector<std::string> backup_names;
  backup_cmd->add_option("device", backup_names, "devices of the inventory (MAC, topic or hostname)");
  backup_cmd->add_flag("--all", st.all, "every device of the inventory");
  backup_cmd->add_option("--method", st.backup.method, "auto (MQTT FileDownload, else HTTP /dl), mqtt or http")->capture_default_str();
  bool no_snapshot = false;
  backup_cmd->add_flag("--no-snapshot", no_snapshot, "skip the snapshot of command replies");
  backup_cmd->add_option("--keep", st.backup.keep, "retention: keep the newest N backups per device (0: all); pinned ones are always kept");
  backup_cmd->add_flag("--json", st.backup.json, "a JSON report");
  backup_cmd->add_option("--parallel", st.backup.run.parallel, "devices at once")->capture_default_str();
  auto device_access = [&](CLI::App* c) {
    c->add_option("--device-mqtt-password", st.backup.access.mqtt_password, "the devices' own MqttPassword (default: ours)")
        ->envname(env("DEVICE_MQTT_PASSWORD"));
    c->add_option("--device-mqtt-password-file", st.device_password_file, "file whose first line is the devices' MqttPassword");
    c->add_option("--web-user", st.backup.access.web_user, "the devices' web user")->capture_default_str();
    c->add_option("--web-password", st.backup.access.web_password, "the devices' WebPassword")->envname(env("WEB_PASSWORD"));
    c->add_option("--web-password-file", st.web_password_file, "file whose first line is the devices' WebPassword");
    c->add_option("--web-port", st.backup.access.web_port, "the devices' web server port")->capture_default_str();
    c->add_option("--device-credentials", st.backup.credentials_file, "JSON file of per-device credentials (docs/backups.md)");
  };
  device_access(backup_cmd);
  device_access(serve_cmd);  // the devices' access for scheduled backups (a rollout's own options come with it)
  auto* export_cmd = backup_cmd->add_subcommand("export", "write one backup as a .dmp, decode-config-style JSON or Tasmota commands");
  fleet::cli::ExportOptions export_opts;
  export_cmd->add_option("id", export_opts.id, "the backup's id (see: backups)")->required();
  export_cmd->add_option("--format", export_opts.format, "dmp, json or commands")->capture_default_str();
  export_cmd->add_option("-o,--output", export_opts.output, "output file (- for stdout)");
  export_cmd->add_flag("--with-secrets", export_opts.with_secrets, "include passwords (json, commands)");
  auto* import_cmd = backup_cmd->add_subcommand("import", "take in .dmp files (web UI, TasmoAdmin, TasmoBackup) or decode-config JSON as backups");
  fleet::cli::ImportOptions import_opts;
  std::string import_device;
  import_cmd->add_option("file", import_opts.files, "settings files (.dmp or JSON)")->required();
  import_cmd->add_option("--device", import_device, "the device they belong to (MAC, topic or hostname; default: the topic or hostname in the file)");
  import_cmd->add_flag("--json", import_opts.json, "a JSON report");
  auto* decode_cmd = app.add_subcommand("decode", "decode a settings file offline (.dmp or JSON) with its validation verdict");
  fleet::cli::DecodeOptions decode_opts;
  decode_cmd->add_option("file", decode_opts.file, "the settings file")->required();
  bool decode_json = false;
  decode_cmd->add_flag("--json", decode_json, "decode-config-style JSON (same as --format json)");
  decode_cmd->add_option("--format", decode_opts.format, "text, json or commands")->capture_default_str();
  decode_cmd->add_flag("--with-secrets", decode_opts.with_secrets, "show passwords");
  auto* backups_cmd = app.add_subcommand("backups", "list the backups kept, newest first");
  std::string backups_device;
  backups_cmd->add_option("device", backups_device, "only this device (MAC, topic or hostname)");
  backups_cmd->add_flag("--json", st.json, "one JSON array");
  auto* restore_cmd = app.add_subcommand("restore", "put a backup back on a device and verify it (prints the plan first)");
  fleet::cli::RestoreOptions restore_opts;
  std::string restore_device;
  std::int64_t restore_backup = 0;
  restore_cmd->add_option("device", restore_device, "the device (MAC, topic or hostname)")->required();
  restore_cmd->add_option("--backup", restore_backup, "the backup's id (default: the device's newest with a settings file)");
  restore_cmd->add_flag("--dry-run", restore_opts.dry_run, "print what would be done, send nothing");
  restore_cmd->add_option("--method", restore_opts.method, "auto (upload over MQTT, else HTTP, else commands), mqtt, http or commands")
      ->capture_default_str();
  bool no_verify = false;
  restore_cmd->add_flag("--no-verify", no_verify, "do not read the settings back to compare");
  device_access(restore_cmd);
  auto* forget_cmd = app.add_subcommand("forget", "take a retired device out of the inventory (and out of Home Assistant)");
  std::string forget_name;
  forget_cmd->add_option("device", forget_name, "the device (MAC, topic or hostname)")->required();
  auto* diff_cmd = app.add_subcommand("diff", "the settings that changed between two backups of a device, or since its backup (then: the device now)");
  std::string diff_device;
  std::vector<std::int64_t> diff_ids;
  diff_cmd->add_option("device", diff_device, "the device (MAC, topic or hostname)")->required();
  diff_cmd->add_option("ids", diff_ids, "backup ids: two compare those, one compares it with the device now, none its newest backup with now")
      ->expected(0, 2);
  diff_cmd->add_flag("--json", st.json, "JSON");
  device_access(diff_cmd);
  diff_cmd->fallthrough();
  // Rollouts (docs/rollouts.md): the daemon drives them; without one, this process does.
  fleet::cli::RolloutCommand rc;
  std::vector<std::string> rollout_devices, where;
  std::string canary = "1", waves = "100%", error_threshold, success_threshold = "100%", window, mode = "clean", rollout_name;
  int max_parallel = 20, error_min = 1, min_rssi = -1;
  bool skip_powered = false;
  double max_per_minute = 0;
  std::int64_t offline_timeout = 600, health_window = 60, restart_timeout = 120, upgrade_timeout = 600;
  auto rollout_options = [&](CLI::App* c) {
    c->add_option("--to", st.to, "target version, or latest")->capture_default_str();
    c->add_option("--to-build", st.to_build, "target build (default: keep each device's; --build works too)");
    c->add_option("--where", where, "only devices where FIELD OP VALUE (version<9.1, build=tasmota, chip=esp32, module=…); repeatable");
    c->add_option("--max-parallel", max_parallel, "device jobs at once, fleet-wide")->capture_default_str();
    c->add_option("--max-per-minute", max_per_minute, "device job starts per minute (0: no limit)");
    c->add_option("--offline-timeout", offline_timeout, "seconds an offline device waits at its turn before it is skipped")->capture_default_str();
    c->add_option("--health-window", health_window, "seconds a device must stay healthy after each hop")->capture_default_str();
    c->add_option("--restart-timeout", restart_timeout, "seconds a restart may take before the device counts as gone")
        ->capture_default_str()->check(CLI::Range(1, 86400));
    c->add_option("--upgrade-timeout", upgrade_timeout, "seconds from Upgrade 1 to the new image's boot (download, -minimal or safeboot stage)")
        ->capture_default_str()->check(CLI::Range(1, 86400));
    c->add_option("--min-rssi", min_rssi, "refuse devices whose Wi-Fi RSSI (%) is below this");
    c->add_option("--window", window, "start device jobs only inside this daily window, local time (01:00-05:00)");
    c->add_option("--mode", mode, "clean (backup, Reset 6, upgrade, restore, verify) or in-place (backup, upgrade, compare the settings)")
        ->capture_default_str();
    c->add_flag("--skip-powered", skip_powered, "defer devices whose relay is on (a restart cuts what is plugged in) until it is off");
    c->add_option("--name", rollout_name, "a label for the rollout");
    c->add_flag("--dry-run", rc.dry_run, "print the groups and each device's plan, send nothing");
    c->add_flag("--json", rc.json, "JSON (with --follow: one object per event)");
    c->add_flag("--verbose", rc.verbose, "follow commands and replies too, not only state changes");
    device_access(c);
  };
  auto* rollout_cmd = app.add_subcommand("rollout", "staged rollouts: start, list, show, pause, resume, abort, retry");
  rollout_cmd->require_subcommand(1);
  rollout_cmd->fallthrough();
  auto* ro_start = rollout_cmd->add_subcommand("start", "start a rollout (canary, waves, limits, error condition)");
  rollout_options(ro_start);
  ro_start->add_flag("--all", st.all, "every device of the inventory");
  ro_start->add_option("device", rollout_devices, "devices (MAC, topic or hostname)");
  ro_start->add_option("--canary", canary, "the first group: a count or a share (0: none)")->capture_default_str();
  ro_start->add_option("--waves", waves, "the groups after the canary, cumulative: 10%,50%,100%")->capture_default_str();
  ro_start->add_option("--error-threshold", error_threshold, "failures per group (count or %) that pause the rollout");
  ro_start->add_option("--error-min", error_min, "judge the error condition once this many devices of a group ended")->capture_default_str();
  ro_start->add_option("--success-threshold", success_threshold, "share of a group that must have ended before the next starts")
      ->capture_default_str();
  ro_start->add_flag("--follow", rc.follow, "follow it live until it ends (Ctrl-C detaches)");
  std::int64_t rollout_id = 0;
  auto* ro_list = rollout_cmd->add_subcommand("list", "the rollouts, newest first");
  ro_list->add_flag("--json", st.json, "JSON");
  auto* ro_show = rollout_cmd->add_subcommand("show", "one rollout: status, counts per group and per device");
  ro_show->add_option("id", rollout_id, "the rollout")->required();
  ro_show->add_flag("--json", st.json, "JSON");
  std::vector<CLI::App*> ro_ops;
  for (auto [name, help] : std::vector<std::pair<const char*, const char*>>{
           {"pause", "start no new device; running ones stop at their next safe point"},
           {"resume", "continue a paused rollout"},
           {"abort", "stop: devices in flight finish their hop (or are restored), the rest are cancelled"},
           {"retry", "run the failed devices again"}}) {
    auto* op = rollout_cmd->add_subcommand(name, help);
    op->add_option("id", rollout_id, "the rollout")->required();
    op->add_flag("--json", rc.json, "JSON");
    op->add_flag("--follow", rc.follow, "follow it live until it ends (resume, retry)");
    ro_ops.push_back(op);
  }
  for (auto* c : {ro_start, ro_list, ro_show}) c->fallthrough();
  for (auto* c : ro_ops) c->fallthrough();
  auto* upgrade_cmd = app.add_subcommand("upgrade", "upgrade these devices now (a rollout of just them), followed live; run it again to resume");
  upgrade_cmd->add_option("device", rollout_devices, "the devices (MAC, topic or hostname)")->required();
  rollout_options(upgrade_cmd);
  auto* log_cmd = app.add_subcommand("log", "the audit log: every command sent, every reply that moved a job, every state change");
  std::string log_device;
  std::int64_t log_rollout = 0;
  log_cmd->add_option("device", log_device, "only this device (MAC, topic or hostname)");
  log_cmd->add_option("--rollout", log_rollout, "only this rollout");
  log_cmd->add_flag("--json", st.json, "JSON");
  for (auto* c : {upgrade_cmd, log_cmd}) c->fallthrough();
  auto* jobs_cmd = app.add_subcommand("jobs", "the upgrade jobs, newest first (with an id: that job and what happened)");
  std::int64_t jobs_id = 0;
  jobs_cmd->add_option("id", jobs_id, "one job");
  jobs_cmd->add_flag("--json", st.json, "JSON");
  for (auto* c : {backup_cmd, export_cmd, backups_cmd, restore_cmd, jobs_cmd}) c->fallthrough();
  app.add_option("--ota-base", st.ota_base, "serve every image from this base URL (your OTA server or mirror)")->envname(env("OTA_BASE"));

  auto args = rewrite_plan_args(argc, argv);
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  try {
    app.parse(static_cast<int>(argp.size()), argp.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is fine; anything else is bad usage
  }
  fleet::log::set_threshold(parse_level(st.log_level));
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    if (*serve_cmd) return serve(st);
    if (*devices_cmd) return devices(st, filter);
    if (*plan_cmd) return plan(st, plan_names);
    if (*decode_cmd) {
      if (decode_json) decode_opts.format = "json";
      return fleet::cli::decode_file(decode_opts);
    }
    if (*import_cmd) {
      import_opts.db = st.db_path;
      if (!import_device.empty()) import_opts.device = import_device;
      return fleet::cli::import_backups(import_opts);
    }
    if (*export_cmd) {
      export_opts.db = st.db_path;
      return fleet::cli::export_backup(export_opts);
    }
    if (*backup_cmd) {
      st.backup.snapshot = !no_snapshot;
      auto o = backup_options(st);
      return fleet::cli::run_backups(o, select_devices(st, backup_names));
    }
    if (*jobs_cmd) return fleet::cli::list_jobs(st.db_path, jobs_id > 0 ? std::optional(jobs_id) : std::nullopt, st.json);
    if (*ro_list) return fleet::cli::list_rollouts(st.db_path, st.json);
    if (*ro_show) return fleet::cli::show_rollout(st.db_path, rollout_id, st.json);
    if (*log_cmd)
      return fleet::cli::show_log(st.db_path, log_device.empty() ? std::nullopt : std::optional(log_device),
                                  log_rollout > 0 ? std::optional(log_rollout) : std::nullopt, st.json);
    if (*ro_start || *upgrade_cmd || std::any_of(ro_ops.begin(), ro_ops.end(), [](CLI::App* c) { return c->parsed(); })) {
      nlohmann::json spec = {{"target", st.to}, {"max_parallel", max_parallel}, {"offline_timeout_s", offline_timeout},
                             {"health_window_s", health_window}, {"restart_timeout_s", restart_timeout},
                             {"upgrade_timeout_s", upgrade_timeout}, {"mode", mode}};
      if (!st.to_build.empty()) spec["target_build"] = st.to_build;
      if (!rollout_name.empty()) spec["name"] = rollout_name;
      if (!where.empty()) spec["where"] = where;
      if (max_per_minute > 0) spec["max_per_minute"] = max_per_minute;
      if (min_rssi >= 0) spec["min_rssi"] = min_rssi;
      if (!window.empty()) spec["window"] = window;
      if (skip_powered) spec["skip_powered"] = true;
      if (*upgrade_cmd) {
        rc.action = "upgrade";
        spec["devices"] = rollout_devices;
        spec["canary"] = 0;
      } else if (*ro_start) {
        rc.action = "start";
        if (st.all) spec["devices"] = "all";
        else if (!rollout_devices.empty()) spec["devices"] = rollout_devices;
        spec["canary"] = canary;
        spec["waves"] = waves;
        if (!error_threshold.empty()) spec["error_threshold"] = error_threshold;
        spec["error_min_executed"] = error_min;
        spec["success_threshold"] = success_threshold;
      } else {
        for (auto* op : ro_ops)
          if (op->parsed()) rc.action = op->get_name();
        rc.id = rollout_id;
      }
      // The device access options given here travel with the rollout (a daemon may drive it).
      nlohmann::json access = nlohmann::json::object();
      if (st.backup.access.web_port != 80) access["web_port"] = st.backup.access.web_port;
      if (st.backup.access.web_user != "admin") access["web_user"] = st.backup.access.web_user;
      if (!st.backup.access.web_password.empty()) access["web_password"] = st.backup.access.web_password;
      if (!st.backup.access.mqtt_password.empty()) access["mqtt_password"] = st.backup.access.mqtt_password;
      if (!access.empty()) spec["access"] = access;
      rc.spec = spec;
      return fleet::cli::run_rollout_command(rc, daemon_options(st), g_stop);
    }
    if (*restore_cmd) {
      restore_opts.base = backup_options(st);
      if (restore_backup > 0) restore_opts.backup_id = restore_backup;
      restore_opts.verify = !no_verify;
      return fleet::cli::run_restore(restore_opts, select_devices(st, {restore_device}).at(0));
    }
    if (*forget_cmd) {
      auto broker = st.broker;
      if (!st.password_file.empty()) broker.password = read_secret(st.password_file);
      return fleet::cli::forget_device(broker, st.api_base, st.db_path, forget_name);
    }
    if (*diff_cmd) {
      fleet::cli::DiffOptions d;
      d.backup = backup_options(st);
      d.device = select_devices(st, {diff_device}).at(0);
      d.ids = diff_ids;
      d.json = st.json;
      return fleet::cli::diff_device(d);
    }
    if (*backups_cmd) return fleet::cli::list_backups(st.db_path, backups_device.empty() ? std::nullopt : std::optional(backups_device), st.json);
    if (*fw_cmd) {
      auto o = st.fw;
      o.db_path = st.db_path;
      fleet::planner::Catalog catalog = fleet::planner::Catalog::builtin();
      if (!st.catalog_file.empty()) catalog.merge(fleet::planner::Catalog::parse(read_text(st.catalog_file)));
      if (*fw_add) return fleet::cli::firmware_add(o, catalog, fw_file);
      if (*fw_list) return fleet::cli::firmware_list(o);
      if (*fw_verify) return fleet::cli::firmware_verify(o);
      if (*fw_fetch) {
        fleet::planner::Catalog up = catalog;
        if (!upstream.empty()) up.set_ota_base(upstream);
        return fleet::cli::firmware_fetch(o, up, collect_plans(st, plan_names, up));
      }
      if (*fw_check) {
        fleet::planner::Catalog local = catalog;
        return fleet::cli::firmware_check(o, local, collect_plans(st, plan_names, local));
      }
    }
  } catch (const fleet::store::StoreError& e) {
    // The database could not be used: a runtime failure, not the caller's mistake.
    std::cerr << "tasmota-fleet: database: " << e.what() << "\n";
    return 4;
  } catch (const fleet::core::RuntimeFailure& e) {
    std::cerr << "tasmota-fleet: " << e.what() << "\n";
    return 4;
  } catch (const std::exception& e) {
    std::cerr << "tasmota-fleet: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
