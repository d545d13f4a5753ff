#pragma once
// The daemon's single event loop: broker events in, timers out. Everything stateful (the inventory
// and, through the hooks, device jobs, rollouts and the control API) runs on this one thread, driven by events and
// ticks, so nothing needs a lock and nothing blocks on a device.
#include <atomic>
#include <cstdint>
#include <functional>

#include "inventory/inventory.h"
#include "mqtt/event_queue.h"

namespace fleet::orchestrator {

struct ServiceHooks {
  std::function<void(std::int64_t now_ms)> maintain_connection;  // reconnect with backoff
  std::function<void(std::int64_t now_ms)> heartbeat;           // every heartbeat_ms
  std::function<void(std::int64_t now_ms)> tick;                // every loop turn (≤ 50 ms): other event sources
  std::int64_t heartbeat_ms = 2000;
  // A message for the daemon itself (its control API, Home Assistant's topics): handled there and seen by
  // nobody else; true when it was (else the inventory would warn about our own topics as unknown senders).
  std::function<bool(const mqtt::Event& e)> claim;
  std::function<void(const mqtt::Event& e)> on_event;        // after the inventory has seen it: jobs
  std::function<bool(std::int64_t now_ms)> should_stop;      // a stop from inside (--exit-after, an in-process run done)
  // Around each loop turn: the daemon's one commit of the turn's writes, then the commands they allow.
  std::function<void()> begin_turn;
  std::function<void()> end_turn;
  // A stop asked from outside (SIGTERM, Ctrl-C) first drains: begin_drain once, then the loop runs on
  // until `drained` says so (the device jobs in flight reached a safe point, or its time is up).
  std::function<void(std::int64_t now_ms)> begin_drain;
  std::function<bool(std::int64_t now_ms)> drained;
};

class FleetService {
 public:
  FleetService(inventory::Inventory& inventory, mqtt::EventQueue& events, const core::Clock& clock, ServiceHooks hooks);
  // Runs until `stop` is set; flushes the inventory before returning.
  void run(const std::atomic<bool>& stop);
  std::uint64_t connects() const { return connects_; }

 private:
  void handle(mqtt::Event& e);
  void dispatch(mqtt::Event& e);  // to whoever claims it, else the inventory and then on_event
  inventory::Inventory& inventory_;
  mqtt::EventQueue& events_;
  const core::Clock& clock_;
  ServiceHooks hooks_;
  std::uint64_t connects_ = 0;
};

}  // namespace fleet::orchestrator
