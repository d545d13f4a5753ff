#include "cli/control_client.h"

#include <unistd.h>

#include <random>

#include "mqtt/event_queue.h"
#include "mqtt/paho_transport.h"

namespace fleet::cli {

ControlClient::ControlClient(mqtt::BrokerConfig broker, std::string api_base)
    : broker_(std::move(broker)), base_(std::move(api_base)) {
  broker_.client_id += "-ctl-" + std::to_string(::getpid());
  broker_.status_topic.clear();
}

bool ControlClient::daemon_online(std::chrono::milliseconds wait) {
  mqtt::EventQueue events;
  mqtt::PahoTransport t(broker_, {base_ + "/v1/status"}, events);
  t.start();
  auto until = std::chrono::steady_clock::now() + wait;
  bool subscribed = false;
  while (std::chrono::steady_clock::now() < until) {
    for (auto& e : events.pop_all(std::chrono::milliseconds(50))) {
      if (e.kind == mqtt::Event::Message && e.topic == base_ + "/v1/status") {
        t.stop();
        return e.payload == "online";
      }
      // Retained messages come right after the subscription is acknowledged: a short grace, then no.
      if (e.kind == mqtt::Event::Subscribed && !subscribed) {
        subscribed = true;
        until = std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(300));
      }
    }
  }
  t.stop();
  return false;
}

Result<nlohmann::json> ControlClient::request(nlohmann::json req, std::chrono::milliseconds timeout) {
  std::random_device rd;
  auto id = std::to_string(::getpid()) + "-" + std::to_string(rd());
  auto reply_to = base_ + "/v1/replies/cli-" + id;
  req["request_id"] = id;
  req["reply_to"] = reply_to;
  mqtt::EventQueue events;
  mqtt::PahoTransport t(broker_, {reply_to}, events);
  t.start();
  auto until = std::chrono::steady_clock::now() + timeout;
  bool sent = false;
  while (std::chrono::steady_clock::now() < until) {
    for (auto& e : events.pop_all(std::chrono::milliseconds(50))) {
      if (e.kind == mqtt::Event::Subscribed && !sent) {
        t.publish(base_ + "/v1/control", req.dump());
        sent = true;
      }
      if (e.kind != mqtt::Event::Message || e.topic != reply_to) continue;
      auto j = nlohmann::json::parse(e.payload, nullptr, false);
      if (j.is_discarded() || !j.is_object() || j.value("request_id", "") != id) continue;
      t.stop();
      if (!j.value("ok", false)) return fail(j.value("error", std::string("the daemon refused the request")));
      return j.value("result", nlohmann::json());
    }
  }
  t.stop();
  return fail(sent ? "the daemon did not answer in time" : "the broker could not be reached: " + broker_.describe());
}

}  // namespace fleet::cli
