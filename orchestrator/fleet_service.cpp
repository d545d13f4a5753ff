#include "orchestrator/fleet_service.h"

#include "core/log.h"

namespace fleet::orchestrator {

FleetService::FleetService(inventory::Inventory& inventory, mqtt::EventQueue& events, const core::Clock& clock,
                           ServiceHooks hooks)
    : inventory_(inventory), events_(events), clock_(clock), hooks_(std::move(hooks)) {}

void FleetService::handle(mqtt::Event& e) {
  switch (e.kind) {
    case mqtt::Event::Message:
      inventory_.on_message(e.topic, e.payload, e.retained);
      break;
    case mqtt::Event::Connected:
      ++connects_;
      inventory_.on_connected();
      break;
    case mqtt::Event::Subscribed:
    case mqtt::Event::Wake:
      break;
    case mqtt::Event::ConnectionLost:
      log::warn("service: broker connection lost; inventory kept, devices will be re-asked on reconnect");
      break;
  }
}

void FleetService::dispatch(mqtt::Event& e) {
  if (e.kind == mqtt::Event::Message && hooks_.claim && hooks_.claim(e)) return;
  handle(e);
  if (hooks_.on_event) hooks_.on_event(e);
}

void FleetService::run(const std::atomic<bool>& stop) {
  std::int64_t last_beat = 0;
  bool draining = false;
  while (true) {
    if (stop.load(std::memory_order_relaxed)) {
      if (!draining && hooks_.begin_drain) hooks_.begin_drain(clock_.now_ms());
      draining = true;
      if (!hooks_.drained || hooks_.drained(clock_.now_ms())) break;
    }
    auto batch = events_.pop_all(std::chrono::milliseconds(50));
    if (hooks_.begin_turn) hooks_.begin_turn();
    for (auto& e : batch) {
      dispatch(e);
      if (e.kind != mqtt::Event::Message && e.kind != mqtt::Event::Wake) last_beat = 0;  // report a connection change at once
    }
    auto now = clock_.now_ms();
    if (hooks_.maintain_connection) hooks_.maintain_connection(now);
    inventory_.tick();
    if (hooks_.tick) hooks_.tick(now);
    if (hooks_.heartbeat && now - last_beat >= hooks_.heartbeat_ms) {
      last_beat = now;
      hooks_.heartbeat(now);
    }
    if (hooks_.end_turn) hooks_.end_turn();
    if (hooks_.should_stop && hooks_.should_stop(now)) break;
  }
  // Drain what already arrived, then persist it: a clean stop loses nothing it had received.
  if (hooks_.begin_turn) hooks_.begin_turn();
  for (auto& e : events_.pop_all(std::chrono::milliseconds(0))) dispatch(e);
  if (hooks_.tick) hooks_.tick(clock_.now_ms());
  inventory_.flush();
  if (hooks_.end_turn) hooks_.end_turn();
}

}  // namespace fleet::orchestrator
