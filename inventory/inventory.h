#pragma once
// The live inventory: turns what devices publish into DeviceRecords, asks each new or returning device
// for Status 0 (rate-limited, so a fleet of thousands coming online does not flood the broker), and
// writes changed records to the store in batches. Single-threaded and event-driven: the daemon feeds it
// messages and calls tick() from its loop; it never blocks and never sleeps.
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/string_map.h"
#include "core/warning_budget.h"
#include "inventory/device_record.h"
#include "inventory/ports.h"
#include "inventory/rate_limiter.h"
#include "mqtt/topic_scheme.h"

namespace fleet::inventory {

struct InventoryOptions {
  std::size_t max_payload_bytes = 64 * 1024;  // a Status 0 answer is 2–5 KB
  double status_queries_per_s = 50;
  double status_query_burst = 100;
  // Ask again when a device did not answer: soon the first time (Tasmota's MqttConnected() publishes the
  // LWT Online before it subscribes to cmnd/<topic>/#, so a query sent at once can be lost), then slower.
  std::int64_t status_first_retry_ms = 5'000;
  std::int64_t status_retry_ms = 30'000;
  int status_max_tries = 3;
  std::int64_t flush_interval_ms = 250;
  std::size_t flush_max_dirty = 5000;
  std::size_t max_tracked_topics = 200'000;  // bounds memory under a flood of made-up topics
};

struct InventoryStats {
  std::uint64_t messages = 0;        // everything handed to on_message
  std::uint64_t applied = 0;         // messages whose facts were taken
  std::uint64_t rejected = 0;        // whole payload refused (not JSON, wrong shape, bad LWT)
  std::uint64_t oversized = 0;       // over max_payload_bytes
  std::uint64_t unknown_topics = 0;  // matched no pattern we read
  std::uint64_t dropped_fields = 0;  // single fields refused inside an otherwise good payload
  std::uint64_t status_queries = 0;
  std::uint64_t flushes = 0;
  std::uint64_t rows_written = 0;
  std::uint64_t store_errors = 0;
  std::uint64_t persisted_messages = 0;  // applied messages whose effect has been committed
  // Telemetry throughput (bench/ingest): STATE messages read, and committed to the store.
  std::uint64_t state_messages = 0;
  std::uint64_t state_persisted = 0;
  std::int64_t first_state_ms = 0;
  std::int64_t last_state_ms = 0;
  std::int64_t last_persist_ms = 0;  // commit time of the last flush that carried STATE messages
};

// The device's fallback topic ("DVES_ABCDEF_fb") if it listens on one that reaches only it: its MqttClient
// is known, its firmware names the topic "<MqttClient>_fb" and its FullTopic contains %topic% (Tasmota
// subscribes to the fallback topic only then).
std::optional<std::string> fallback_topic_of(const DeviceRecord& device);

class Inventory {
 public:
  Inventory(mqtt::TopicScheme scheme, core::Transport& transport, InventoryStore& store, const core::Clock& clock,
            InventoryOptions options = {});

  void load();  // the records stored by earlier runs
  // Also follow devices on Tasmota's default topics (%prefix%/%topic%/, cmnd/stat/tele) when the fleet's
  // layout differs: a device after Reset 6 comes back there (tasmota-facts.md) and is found again by
  // its MAC. Returns the extra subscription filters (none when the layouts are the same).
  std::vector<std::string> follow_default_topics();
  void on_message(std::string_view topic, std::string_view payload, bool retained);
  void on_connected();  // (re)connected: what we hold may be stale, ask online devices again
  void tick();          // sends due Status queries, retries, flushes due writes
  bool flush();         // writes every changed record now; false if the store failed (kept for retry)
  // A retired device taken out (record, topics, fallback topics, stored row). Refused, with the reason,
  // while it is online: its next message would bring it back at once.
  std::optional<std::string> forget(const std::string& mac);

  const InventoryStats& stats() const { return stats_; }
  std::vector<DeviceRecord> devices() const;
  // Every record in place, without copying them (the metrics count 10,000 devices every second).
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [mac, rec] : devices_) f(rec);
  }
  const DeviceRecord* find(std::string_view mac) const;
  const DeviceRecord* find_by_ip(std::string_view ip) const;  // the device last heard with this address
  std::size_t size() const { return devices_.size(); }
  // Why commands to this device's topic could reach another device too (two MACs seen on it), if so.
  std::optional<std::string> conflict_of(const std::string& mac) const;
  std::size_t queued_queries() const { return query_queue_.size(); }
  std::size_t dirty_count() const { return dirty_.size(); }

 private:
  struct TopicState {
    std::string mac;                       // empty until the device said who it is
    std::unique_ptr<DeviceFacts> pending;  // facts heard before that
    std::int64_t asked_ms = -1;            // last Status query, -1 = not since (re)connect
    int tries = 0;
    bool queued = false;
    bool awaiting = false;
    bool logged_bad = false;
    bool on_defaults = false;  // last heard on Tasmota's default topics: ask it there
    std::int64_t bad = 0;
  };

  TopicState* topic_state(const std::string& topic);
  void handle_discovery(std::string_view mac_in_topic, std::string_view payload);
  void apply(const std::string& topic, TopicState& ts, DeviceFacts& facts, bool live);
  void identify(const std::string& topic, TopicState& ts, const std::string& mac);
  // false: not a fallback topic of a known device (the message is then heard as any other).
  bool handle_fallback_reply(const std::string& fallback, const std::string& suffix, std::string_view payload, bool retained);
  // Every merge of facts into a record: the indexes by fallback topic and by address follow it.
  bool merge(DeviceRecord& rec, const DeviceFacts& f);
  void remember_fallbacks(const DeviceRecord& rec);
  void remember_ip(const DeviceRecord& rec);
  void note_bad(const std::string& topic, TopicState* ts, const std::string& reason);
  void queue_query(const std::string& topic, TopicState& ts);
  void send_queries(std::int64_t now);
  void retry_unanswered(std::int64_t now);
  DeviceRecord& record(const std::string& mac);
  void mark_dirty(const std::string& mac);

  mqtt::TopicScheme scheme_;
  std::optional<mqtt::TopicScheme> defaults_;
  core::Transport& transport_;
  InventoryStore& store_;
  const core::Clock& clock_;
  InventoryOptions opt_;
  RateLimiter limiter_;
  InventoryStats stats_;

  core::StringMap<DeviceRecord> devices_;                  // by MAC
  core::StringMap<std::string> by_ip_;                     // IP address -> the MAC last heard with it
  std::unordered_map<std::string, TopicState> topics_;     // by device topic
  std::unordered_set<std::string> dirty_;
  std::deque<std::string> query_queue_;
  std::unordered_set<std::string> logged_unknown_;
  // Unknown topics and bad payloads: 20 lines a minute fleet-wide at most, the rest summed up in tick().
  core::WarningBudget sender_warnings_{20, 60'000};
  std::unordered_map<std::string, std::set<std::string>> conflicts_;  // topic -> the MACs seen on it
  std::unordered_map<std::string, std::string> by_fallback_;          // "<MqttClient>_fb" -> MAC
  std::uint64_t applied_since_flush_ = 0;
  std::uint64_t states_since_flush_ = 0;
  std::int64_t last_flush_ms_ = 0;
  std::int64_t last_retry_scan_ms_ = 0;
};

}  // namespace fleet::inventory
