#include "orchestrator/daemon.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <mutex>

#include "core/held_transport.h"
#include "core/log.h"
#include "core/runtime_failure.h"
#include "firmware/firmware_store.h"
#include "firmware/ota_server.h"
#include "firmware/plan_check.h"
#include "mqtt/fallback_topic.h"
#include "mqtt/event_queue.h"
#include "mqtt/paho_transport.h"
#include "orchestrator/backup_device_job.h"
#include "orchestrator/control_api.h"
#include "orchestrator/fleet_service.h"
#include "orchestrator/home_assistant.h"
#include "orchestrator/job_runner.h"
#include "orchestrator/metrics.h"
#include "orchestrator/metrics_server.h"
#include "orchestrator/rollout_executor.h"
#include "orchestrator/scheduled_backups.h"
#include "store/database.h"
#include "store/fleet_counts.h"
#include "store/sqlite_backup_checks.h"
#include "store/migrations.h"
#include "store/sqlite_audit_log.h"
#include "store/sqlite_backup_store.h"
#include "store/sqlite_firmware_index.h"
#include "store/sqlite_inventory_store.h"
#include "store/sqlite_job_store.h"
#include "store/sqlite_rollout_store.h"

namespace fleet::orchestrator {
namespace {

// The address devices reach us at when the server listens on every interface: the first IPv4 address
// of an interface that is up and not loopback (else loopback). --ota-url overrides it.
std::string primary_ipv4() {
  ifaddrs* list = nullptr;
  std::string found = "127.0.0.1";
  if (getifaddrs(&list) != 0) return found;
  for (auto* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || (a->ifa_flags & IFF_LOOPBACK) || !(a->ifa_flags & IFF_UP)) continue;
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof buf);
    found = buf;
    break;
  }
  freeifaddrs(list);
  return found;
}

std::pair<std::string, int> split_listen(const std::string& listen, const char* option) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error(std::string(option) + ": '" + listen + "' is not HOST:PORT");
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) throw std::runtime_error(std::string(option) + ": bad port in '" + listen + "'");
  return {listen.substr(0, colon), port};
}

// Ingest figures for operators and bench/ingest: counts, STATE throughput window, peak memory.
void write_metrics(const std::string& path, const inventory::InventoryStats& s, std::size_t devices) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  nlohmann::ordered_json j = {{"devices", devices},
                              {"messages", s.messages},
                              {"applied", s.applied},
                              {"rejected", s.rejected},
                              {"oversized", s.oversized},
                              {"unknown_topics", s.unknown_topics},
                              {"status_queries", s.status_queries},
                              {"rows_written", s.rows_written},
                              {"flushes", s.flushes},
                              {"state_messages", s.state_messages},
                              {"state_persisted", s.state_persisted},
                              {"first_state_ms", s.first_state_ms},
                              {"last_state_ms", s.last_state_ms},
                              {"last_persist_ms", s.last_persist_ms},
                              {"peak_rss_kb", ru.ru_maxrss}};
  std::ofstream(path) << j.dump(2) << "\n";
}

}  // namespace

std::string process_owner() { return fmt::format("{}:{}", process_host(), ::getpid()); }

int run_daemon(DaemonOptions& o, const std::atomic<bool>& stop) {
  namespace fs_store = fleet::store;
  o.broker.paho_uri();  // a bad URL is refused before anything starts
  const bool in_process = static_cast<bool>(o.on_ready);
  if (!o.rollouts) o.control_api = false;
  if (o.control_api && !o.api_base.empty()) o.broker.status_topic = o.api_base + "/v1/status";
  if (in_process) o.broker.client_id += "-run-" + std::to_string(::getpid());  // never the daemon's id: that would disconnect it

  fs_store::Database db(o.db_path);
  int version = fs_store::migrate(db);
  fs_store::SqliteInventoryStore store(db);
  fs_store::SqliteJobStore job_store(db);
  fs_store::SqliteBackupStore backup_store(db);
  fs_store::SqliteRolloutStore rollout_store(db);
  fs_store::SqliteAuditLog audit_log(db);
  core::SystemClock clock;
  mqtt::EventQueue events;
  auto filters = o.scheme.inventory_filters();
  if (o.control_api && !o.api_base.empty()) filters.push_back(o.api_base + "/v1/control");
  filters.push_back(mqtt::kFallbackReplyFilter);  // device jobs' replies on the devices' own fallback topics
  mqtt::PahoTransport transport(o.broker, filters, events);
  inventory::Inventory inv(o.scheme, transport, store, clock, o.inventory);
  transport.add_filters(inv.follow_default_topics());  // a device after Reset 6 is found again there
  inv.load();

  // In-process, beside a `serve --no-rollouts` that runs the OTA server: plans point at its server.
  // (Its images are in its firmware store: the preflight checks them there.)
  if (in_process && o.ota_base.empty()) {
    auto d = store.daemon_status();
    if (d && !d->ota_base.empty() && d->connected && clock.now_ms() - d->heartbeat_ms < 15'000) {
      o.ota_base = d->ota_base;
      o.no_ota = true;
      if (!d->firmware_dir.empty()) o.firmware_dir = d->firmware_dir;
    }
  }
  fs_store::DaemonStatus status;
  status.pid = getpid();
  status.started_ms = clock.now_ms();
  status.broker = o.broker.describe();
  std::error_code ec;
  status.firmware_dir = std::filesystem::absolute(o.firmware_dir, ec).string();
  std::int64_t deadline = o.exit_after_s > 0 ? clock.now_ms() + static_cast<std::int64_t>(o.exit_after_s * 1000) : 0;
  std::int64_t last_stats = clock.now_ms();

  // The firmware store (preflight checks) and the built-in OTA server: its own database connection and
  // thread pool; downloads come back to this loop, which maps the client address to a device and logs them.
  fs_store::Database fw_db(o.db_path);
  fs_store::SqliteFirmwareIndex fw_index(fw_db);
  firmware::FirmwareStore fw_store(o.firmware_dir, fw_index);
  std::unique_ptr<fs_store::Database> ota_db;
  std::unique_ptr<fs_store::SqliteFirmwareIndex> ota_index;
  std::unique_ptr<firmware::FirmwareStore> ota_store;
  std::unique_ptr<firmware::OtaServer> ota;
  std::mutex ota_mu, downloads_mu;
  std::vector<firmware::DownloadRecord> downloads;
  fs_store::SqliteDownloadLog download_log(db);
  if (!o.no_ota) {
    auto [host, port] = split_listen(o.ota_listen, "--ota-listen");
    ota_db = std::make_unique<fs_store::Database>(o.db_path);
    ota_index = std::make_unique<fs_store::SqliteFirmwareIndex>(*ota_db);
    ota_store = std::make_unique<firmware::FirmwareStore>(o.firmware_dir, *ota_index);
    ota = std::make_unique<firmware::OtaServer>(
        firmware::OtaServerOptions{host, port, o.ota_threads, 60},
        [&](const std::string& path) {
          std::lock_guard lock(ota_mu);
          try {
            return ota_store->resolve(path);
          } catch (const std::exception& e) {
            log::warn("ota: index lookup failed: {}", e.what());
            return std::optional<firmware::FirmwareEntry>();
          }
        },
        [&](const firmware::FirmwareEntry& e) { return ota_store->file_of(e); },
        [&](firmware::DownloadRecord r) {
          std::lock_guard lock(downloads_mu);
          downloads.push_back(std::move(r));
        });
    std::string error;
    if (!ota->start(error)) throw core::RuntimeFailure(error + " (use --ota-listen, or --no-ota)");
    status.ota_base = !o.ota_url.empty() ? o.ota_url
                      : fmt::format("http://{}:{}", host == "0.0.0.0" || host.empty() ? primary_ipv4() : host, ota->port());
    while (status.ota_base.ends_with("/")) status.ota_base.pop_back();
    log::info("serve: OTA server on {}:{} serving {} as {}", host, ota->port(), o.firmware_dir, status.ota_base);
  }
  std::unique_ptr<MetricsServer> metrics;
  if (!o.metrics_listen.empty() && !in_process) {
    auto [host, port] = split_listen(o.metrics_listen, "--metrics-listen");
    metrics = std::make_unique<MetricsServer>();
    std::string error;
    if (!metrics->start(host, port, error)) throw core::RuntimeFailure(error + " (--metrics-listen)");
    log::info("serve: metrics on http://{}:{}/metrics, health on /healthz", host, metrics->port());
  }
  // Plans point at our OTA server unless told otherwise.
  planner::Catalog catalog = o.catalog;
  if (!o.ota_base.empty()) catalog.set_ota_base(o.ota_base);
  else if (!status.ota_base.empty()) catalog.set_ota_base(status.ota_base);

  // Device jobs and rollouts.
  // Jobs, rollouts and the control API publish through `held`: a loop turn's commands and device HTTP
  // go out only after the turn's one commit of the writes before them (see fs_store::Turn).
  core::HeldTransport held(transport);
  HeldHttp held_http;
  // A device's HTTP answer turns the loop at once (else it waits for the next 50 ms turn: a job has four).
  held_http.on_answer = [&events] { events.push(mqtt::Event{mqtt::Event::Wake, {}, {}, false}); };
  JobRunner runner(held, clock, {o.scheme}, held_http.port());
  RolloutOptions ro;
  ro.owner = process_owner();
  ro.state_base = o.api_base.empty() ? "" : o.api_base + "/v1";
  ro.catalog = catalog;
  ro.upgrade = o.upgrade;
  ro.access_for = o.access_for;
  firmware::InspectionCache inspected;
  ro.check_images = [&](const planner::UpgradePlan& plan, const firmware::DeviceFit& fit) {
    return firmware::check_plan_images(fw_store, catalog, plan, fit, &inspected);
  };
  ro.on_event = [&](const std::string& line) {
    if (o.log_jobs) log::info("{}", line);
    if (o.on_event) o.on_event(line);
  };
  RolloutExecutor rollouts({rollout_store, audit_log, job_store, backup_store, runner, inv, held, clock}, ro);
  // Commands and replies, written in one transaction per loop turn (a rollout's burst is thousands).
  std::vector<AuditEntry> audit_buffer;
  RolloutExecutor* audit_driver = &rollouts;
  runner.audit = [&](const DeviceJob& job, const std::string& kind, const std::string& text) {
    AuditEntry e;
    e.at_ms = clock.now_ms();
    e.device_mac = job.mac();
    if (auto* u = dynamic_cast<const UpgradeDeviceJob*>(&job)) e.job_id = u->job_id();
    e.rollout_id = audit_driver->rollout_of(job.mac());
    e.kind = kind;
    e.text = text;
    audit_buffer.push_back(std::move(e));
  };
  auto flush_audit = [&] {
    if (audit_buffer.empty()) return;
    try {
      audit_log.append(audit_buffer);
    } catch (const std::exception& ex) {
      log::warn("audit: {} entries not written: {}", audit_buffer.size(), ex.what());
    }
    audit_buffer.clear();
  };
  std::optional<ControlApi> control;
  bool draining = false;  // a stop was asked: nothing new starts
  if (o.control_api && !o.api_base.empty()) {
    control.emplace(rollouts, rollout_store, o.api_base);
    // device.backup: a validated backup of one device, run by the same job runner; answered at once, the
    // outcome on the retained <base>/v1/devices/<MAC>/backup.
    control->backup = [&](const nlohmann::json& request) -> Result<nlohmann::json> {
      auto found = requested_device(request, inv.devices());
      if (!found) return fail(found.error());
      const auto& d = *found;
      const std::string name = request["device"];
      if (auto why = backup_refusal(job_store, d, clock.now_ms())) return fail(fmt::format("{}: {}", name, *why));
      if (runner.has(d.mac)) return fail(fmt::format("{}: another job holds the device", name));
      if (draining) return fail("the daemon is stopping: no new job starts");
      auto access = o.access_for ? o.access_for(d, request.value("access", nlohmann::json())) : DeviceAccess{};
      backup::BackupSettings bs;
      bs.device_mqtt_password = access.mqtt_password;
      runner.add(std::make_shared<BackupDeviceJob>(d, access, bs));
      return nlohmann::json{{"device", d.topic.value_or(d.mac)}, {"mac", d.mac}, {"status", "started"}};
    };
  }
  if (control) {
    control->forget = [&](const nlohmann::json& request) -> Result<nlohmann::json> {
      auto found = requested_device(request, inv.devices());
      if (!found) return fail(found.error());
      const auto mac = found->mac;
      const std::string name = request["device"];
      if (runner.has(mac)) return fail(fmt::format("{}: a job holds the device", name));
      if (auto held = held_by_upgrade_job(job_store, mac)) return fail(fmt::format("{}: {}", name, *held));
      if (auto why = inv.forget(mac)) return fail(fmt::format("{}: not forgotten: {}", name, *why));
      AuditEntry e{0, clock.now_ms(), std::nullopt, mac, std::nullopt, "state", "forgotten: taken out of the inventory"};
      audit_log.append({e});
      return nlohmann::json{{"device", name}, {"mac", mac}, {"status", "forgotten"}};
    };
  }
  auto backup_done = [&](const BackupDeviceJob& job) {
    nlohmann::json out = {{"device", job.device().topic.value_or(job.mac())}, {"problems", job.job().problems()}};
    const auto& r = job.job().result();
    if (r && r->dmp.empty()) out["status"] = "snapshot only";  // no settings file: nothing to restore from
    if (r) {
      try {
        out["id"] = backup_store.add(*r);
        out["method"] = r->method;
        out["bytes"] = r->dmp.size();
        if (!out.contains("status")) out["status"] = "done";
      } catch (const std::exception& e) {
        out["status"] = "failed";
        out["problems"].push_back(std::string("not stored: ") + e.what());
      }
    } else {
      out["status"] = "failed";
      if (!job.gave_up().empty()) out["problems"].push_back(job.gave_up());
    }
    AuditEntry e;
    e.at_ms = clock.now_ms();
    e.device_mac = job.mac();
    e.kind = "state";
    e.text = "backup " + out["status"].get<std::string>() + (out.contains("id") ? fmt::format(": #{}", out["id"].get<std::int64_t>()) : "");
    try {
      audit_log.append({e});
    } catch (const std::exception&) {
    }
    if (!o.api_base.empty()) held.publish_retained(o.api_base + "/v1/devices/" + job.mac() + "/backup", out.dump());
  };
  // Scheduled backups (--backup-every), going on from the checks in the database.
  fs_store::SqliteBackupChecks backup_checks(db);
  std::optional<ScheduledBackups> scheduled_backups;
  if (o.backup_every_s > 0 && !in_process) {
    ScheduledBackupOptions so;
    so.every_s = o.backup_every_s;
    so.keep = o.backup_keep;
    so.state_base = o.api_base.empty() ? "" : o.api_base + "/v1";
    so.access_for = [&o](const inventory::DeviceRecord& d) { return o.access_for ? o.access_for(d, nlohmann::json::object()) : DeviceAccess{}; };
    scheduled_backups.emplace(ScheduledBackupPorts{backup_store, backup_checks, audit_log, job_store, runner, inv, held, clock}, so,
                              fs_store::fleet_counts(db).newest_backup_ms);
    log::info("serve: a backup of every device every {} s{}", o.backup_every_s,
              o.backup_keep > 0 ? fmt::format(", the newest {} kept per device", o.backup_keep) : "");
  }
  // Home Assistant: through the control API, so only where the daemon offers one.
  std::optional<HomeAssistant> home_assistant;
  if (o.ha_discovery && control && !in_process) {
    HomeAssistantPorts hp{inv, rollout_store, held, [&](const nlohmann::json& r) { return control->run(r); },
                          [&](const std::string& mac) { return rollouts.percent_of(mac); },
                          [&](const RolloutRow& r) { return rollouts.current_rows(r); }};
    home_assistant.emplace(hp, HaNames{o.ha_prefix, o.api_base, o.ha_status_topic}, catalog, o.ha_install_spec);
    log::info("serve: Home Assistant discovery under {}/", o.ha_prefix);
  }
  if (in_process) {
    auto only = o.on_ready(rollouts);
    if (!only) return 0;
    ro.only = only;
    // The executor was built before the id was known: build it again for this one rollout.
  }
  std::optional<RolloutExecutor> single;
  if (in_process) single.emplace(RolloutPorts{rollout_store, audit_log, job_store, backup_store, runner, inv, held, clock}, ro);
  RolloutExecutor& driver = in_process ? *single : rollouts;
  audit_driver = &driver;

  ServiceHooks hooks;
  hooks.maintain_connection = [&](std::int64_t now) { transport.maintain(now); };
  hooks.claim = [&](const mqtt::Event& e) {
    if (control && control->on_message(held, e.topic, e.payload)) return true;
    try {
      return home_assistant && home_assistant->on_message(e.topic, e.payload);
    } catch (const std::exception& ex) {
      log::warn("home assistant: {}: {}", e.topic.substr(0, 200), ex.what());
      return true;
    }
  };
  hooks.on_event = [&](const mqtt::Event& e) {
    switch (e.kind) {
      case mqtt::Event::Message: runner.on_message(e.topic, e.payload); break;
      case mqtt::Event::Subscribed: runner.set_online(true); break;
      case mqtt::Event::Connected:
        if (home_assistant) home_assistant->on_connected();
        runner.set_online(false);
        break;
      case mqtt::Event::ConnectionLost: runner.set_online(false); break;
      case mqtt::Event::Wake: break;
    }
  };
  std::uint64_t ota_bytes_sent = 0;
  std::map<std::string, std::uint64_t> downloads_by_outcome;
  bool database_writable = true;  // the last commit (of a loop turn, or of the heartbeat) succeeded
  hooks.tick = [&](std::int64_t now) {
    runner.tick();
    for (auto& done : runner.take_done()) {
      if (auto* b = dynamic_cast<BackupDeviceJob*>(done.get())) {
        if (!scheduled_backups || !scheduled_backups->on_done(*b)) backup_done(*b);
      }
      else driver.on_job_done(done);
    }
    if (o.rollouts) driver.tick();
    try {
      if (scheduled_backups && !draining) scheduled_backups->tick(now);
    } catch (const std::exception& e) {
      log::warn("backup schedule: {}", e.what());
    }
    try {
      if (home_assistant) home_assistant->tick(now);
    } catch (const std::exception& e) {
      log::warn("home assistant: {}", e.what());
    }
    flush_audit();
    std::vector<firmware::DownloadRecord> batch;
    {
      std::lock_guard lock(downloads_mu);
      batch.swap(downloads);
    }
    if (!batch.empty()) {
      std::vector<fs_store::DownloadRow> rows;
      for (auto& r : batch) {
        ota_bytes_sent += static_cast<std::uint64_t>(std::max<std::int64_t>(0, r.bytes_sent));
        ++downloads_by_outcome[download_outcome(r.status, r.completed)];
        fs_store::DownloadRow row{0, r.path, r.served_path, r.client_ip, std::nullopt, r.status, r.bytes_sent, r.bytes_total,
                                  r.started_ms, r.finished_ms, r.completed};
        if (const auto* d = inv.find_by_ip(r.client_ip)) row.device_mac = d->mac;  // (not a copy of every record per download)
        log::info("ota: {} ({}) {} {}: {} of {} bytes{}", r.client_ip, row.device_mac.value_or("unknown device"), r.status, r.path,
                  r.bytes_sent, r.bytes_total, r.completed ? ", complete" : (r.status == 200 ? ", INCOMPLETE" : ""));
        rows.push_back(std::move(row));
      }
      try {
        download_log.append(rows);
      } catch (const std::exception& e) {
        log::warn("ota: download log not written: {}", e.what());
      }
    }
    if (o.done && o.done(now)) deadline = now;
  };
  hooks.heartbeat = [&](std::int64_t now) {
    const auto& s = inv.stats();
    status.heartbeat_ms = now;
    status.connected = transport.connected();
    status.messages = static_cast<std::int64_t>(s.messages);
    status.rejected = static_cast<std::int64_t>(s.rejected + s.oversized);
    status.status_queries = static_cast<std::int64_t>(s.status_queries);
    // An in-process run is not the daemon: `devices` and plans must not take it for one.
    if (!in_process) {
      try {
        store.save_daemon_status(status);
      } catch (const std::exception& e) {
        database_writable = false;
        log::warn("serve: heartbeat not written: {}", e.what());
      }
    }
    if (metrics) {
      MetricsSnapshot m;
      inv.for_each([&](const inventory::DeviceRecord& d) {
        ++m.devices[{d.version.value_or("unknown"), d.chip.value_or("unknown"), d.online}];
      });
      try {
        auto counts = fs_store::fleet_counts(db);
        m.jobs_by_status = counts.jobs_by_status;
        m.rollouts_by_status = counts.rollouts_by_status;
        for (const auto& [mac, taken_ms] : counts.newest_backup_ms) {
          const auto* d = inv.find(mac);
          if (!d) continue;  // forgotten: its backups stay, its age is no one's concern
          m.backup_age.push_back({mac, d->topic.value_or(""), static_cast<double>(now - taken_ms) / 1000.0});
        }
      } catch (const std::exception& e) {
        log::warn("metrics: counts not read: {}", e.what());
      }
      m.commands_sent = runner.commands_sent();
      m.messages_in = s.messages;
      m.payloads_refused = s.rejected + s.oversized;
      m.ota_bytes_sent = ota_bytes_sent;
      m.downloads_by_outcome = downloads_by_outcome;
      m.broker_connected = transport.connected();
      m.database_writable = database_writable;
      metrics->update(render_prometheus(m), m.broker_connected, m.database_writable);
    }
    if (o.stats_every_s > 0 && now - last_stats >= o.stats_every_s * 1000) {
      last_stats = now;
      log::info("serve: {} devices, {} messages ({} applied, {} rejected, {} oversized, {} unknown topics), {} status "
                "queries, {} rows written, {} device jobs in flight",
                inv.size(), s.messages, s.applied, s.rejected, s.oversized, s.unknown_topics, s.status_queries,
                s.rows_written, runner.running());
    }
  };
  hooks.heartbeat_ms = 1000;
  std::optional<fs_store::Turn> turn;
  hooks.begin_turn = [&] {
    turn.emplace(db);
    held.hold();
    held_http.hold();
  };
  bool turn_failed = false;
  hooks.end_turn = [&] {
    bool committed = turn->commit();
    database_writable = committed;
    turn.reset();
    held.release(committed);
    held_http.release(committed);
    if (!committed && !turn_failed) {
      // What the jobs hold in memory is now ahead of the database: none may go on from it. They are
      // given up (they stay running in the database) and the daemon stops; a restart resumes them
      // from what was stored, as after a kill.
      log::error("serve: the database commit of a loop turn failed: its commands were not sent; stopping");
      turn_failed = true;
      runner.give_up_all("the daemon stopped: a database commit failed");
      deadline = clock.now_ms();
    }
  };
  hooks.should_stop = [&](std::int64_t now) { return deadline && now >= deadline; };
  std::int64_t drain_until = 0;
  hooks.begin_drain = [&](std::int64_t now) {
    drain_until = now + static_cast<std::int64_t>(o.stop_timeout_s * 1000);
    draining = true;
    driver.drain();
    runner.drain();
    if (runner.running() > 0 && o.stop_timeout_s > 0)
      log::warn("serve: stopping: {} device job{} in flight first reach a safe point (up to {} s; signal again to stop now)", runner.running(),
                runner.running() == 1 ? "" : "s", o.stop_timeout_s);
  };
  hooks.drained = [&](std::int64_t now) {
    if (runner.running() == 0) return true;
    if (o.stop_now && o.stop_now->load()) {
      log::warn("serve: stopping now: {} device job(s) stay stored as running and resume at the next start", runner.running());
      return true;
    }
    if (now >= drain_until) {
      if (o.stop_timeout_s > 0)
        log::warn("serve: {} device job(s) did not reach a safe point within {} s: they stay stored as running and resume at the next start",
                  runner.running(), o.stop_timeout_s);
      return true;
    }
    return false;
  };
  FleetService service(inv, events, clock, hooks);

  log::info("serve: database {} (schema {}), broker {}, FullTopic '{}'", o.db_path, version, o.broker.describe(), o.scheme.full_topic());
  if (home_assistant) transport.add_filters(home_assistant->filters());
  transport.start();
  service.run(stop);
  // Jobs in flight stay running in the database: the next process to hold the lease resumes them.
  driver.release_all();
  flush_audit();
  if (ota) ota->stop();
  if (metrics) metrics->stop();
  transport.stop();
  events.close();
  if (!in_process) {
    status.connected = false;
    status.heartbeat_ms = clock.now_ms();
    store.save_daemon_status(status);
  }
  const auto& s = inv.stats();
  log::info("serve: stopped; {} devices, {} messages, {} rows written", inv.devices().size(), s.messages, s.rows_written);
  if (!o.metrics_file.empty()) write_metrics(o.metrics_file, s, inv.devices().size());
  if (turn_failed) throw fs_store::StoreError("a database commit failed (see the log): stopped so that no job runs ahead of its stored state");
  return 0;
}

}  // namespace fleet::orchestrator
