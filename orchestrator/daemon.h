#pragma once
// The daemon's composition: what `serve` runs, and what the command line runs in-process when no
// daemon does (the same orchestrator, not a second runner). One event loop: the inventory, the job
// runner, the rollouts and the control API all live on it; the OTA server and device HTTP feed it
// from their threads.
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "inventory/inventory.h"
#include "mqtt/broker_config.h"
#include "mqtt/topic_scheme.h"
#include "orchestrator/device_job.h"
#include "orchestrator/upgrade_job.h"
#include "planner/catalog.h"

namespace fleet::orchestrator {

class RolloutExecutor;

struct DaemonOptions {
  mqtt::BrokerConfig broker;
  mqtt::TopicScheme scheme;
  std::string db_path = "tasmota-fleet.db";
  inventory::InventoryOptions inventory;
  double exit_after_s = 0;
  std::string metrics_file;
  std::string metrics_listen;
  // Scheduled backups: every device every this many seconds (0: none), the newest `backup_keep` kept.
  double backup_every_s = 0;
  // Home Assistant's MQTT discovery (update entities, the rollout device) under this prefix; off: none.
  bool ha_discovery = true;
  std::string ha_prefix = "homeassistant";
  std::string ha_status_topic = "homeassistant/status";
  nlohmann::json ha_install_spec = nlohmann::json::object();  // an Install's rollout options (health_window_s …)
  int backup_keep = 0;  // HOST:PORT of /metrics and /healthz (empty: off)
  double stats_every_s = 30;
  // The firmware store and the built-in OTA server.
  std::string firmware_dir = "tasmota-fleet-firmware";
  std::string ota_listen = "0.0.0.0:8070";
  std::string ota_url;  // advertised base; empty: derived from ota_listen
  int ota_threads = 128;
  bool no_ota = false;
  // Plans: the catalog; `ota_base` set means every image comes from there, else from our OTA server.
  planner::Catalog catalog = planner::Catalog::builtin();
  std::string ota_base;
  UpgradeSettings upgrade;
  std::function<DeviceAccess(const inventory::DeviceRecord& device, const nlohmann::json& access)> access_for;
  // The control API and state topics below <api_base>/v1/ (empty: none), and the status topic with our LWT.
  std::string api_base = "tasmota-fleet";
  bool control_api = true;
  bool rollouts = true;  // drive rollouts (off: inventory and OTA server only; the command line drives them)
  // In-process runs: drive only this rollout; called once the inventory is loaded and the rollouts can be
  // asked (creates the rollout, returns its id); stop when `done` says so.
  std::function<std::optional<std::int64_t>(RolloutExecutor& rollouts)> on_ready;
  std::function<bool(std::int64_t now_ms)> done;
  std::function<void(const std::string& line)> on_event;  // every audit line
  bool log_jobs = true;
  // A stop from outside (SIGTERM, Ctrl-C) waits up to this long for the device jobs in flight to reach a
  // safe point (0: stop at once; they resume at the next start either way); `stop_now` set: at once.
  double stop_timeout_s = 240;
  const std::atomic<bool>* stop_now = nullptr;
};

// Exit status 0 on a clean stop; throws on a start-up error (bad options, database, OTA port taken).
int run_daemon(DaemonOptions& options, const std::atomic<bool>& stop);

// Who we are in a lease: host and process.
std::string process_owner();

}  // namespace fleet::orchestrator
