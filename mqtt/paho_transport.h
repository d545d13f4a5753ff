#pragma once
// The Paho MQTT C++ adapter: connects (TCP or TLS, user/password), subscribes the given filters after
// every (re)connect, reconnects with exponential backoff, and delivers everything through an
// EventQueue. publish() never blocks; while disconnected it drops (callers re-ask on reconnect).
#include <atomic>
#include <memory>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "inventory/ports.h"
#include "mqtt/broker_config.h"
#include "mqtt/event_queue.h"

namespace mqtt {
class async_client;
}

namespace fleet::mqtt {

class PahoTransport final : public core::Transport {
 public:
  PahoTransport(BrokerConfig config, std::vector<std::string> filters, EventQueue& events);
  ~PahoTransport() override;
  PahoTransport(const PahoTransport&) = delete;
  PahoTransport& operator=(const PahoTransport&) = delete;

  void add_filters(const std::vector<std::string>& filters);  // before start()
  void start();
  // Call from the owner's loop: starts a reconnect when the backoff has passed.
  void maintain(std::int64_t now_ms);
  void stop();

  void publish(const std::string& topic, const std::string& payload) override;
  void publish_retained(const std::string& topic, const std::string& payload) override;
  void publish_retained_uncached(const std::string& topic, const std::string& payload) override;
  bool connected() const { return connected_; }
  std::uint64_t dropped_publishes() const { return dropped_; }

 private:
  class Callbacks;
  class SubscribeListener;
  void connect();
  void on_connect_failed(const std::string& why);
  void on_connected();
  void on_lost(const std::string& cause);
  void send_retained(const std::string& topic, const std::string& payload);  // QoS 1, retained, when connected

  BrokerConfig config_;
  std::vector<std::string> filters_;
  EventQueue& events_;
  std::unique_ptr<::mqtt::async_client> client_;
  std::unique_ptr<Callbacks> callbacks_;
  std::unique_ptr<SubscribeListener> subscribe_listener_;
  std::atomic<bool> connected_{false};
  static constexpr int kConnectTimeoutS = 10;
  std::atomic<bool> connecting_{false};
  std::atomic<std::int64_t> connect_started_ms_{0};  // when the attempt in flight began
  std::atomic<bool> stopping_{false};
  std::atomic<std::int64_t> retry_at_ms_{0};
  std::atomic<int> backoff_s_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::mutex connect_mu_;
  std::mutex retained_mu_;
  std::map<std::string, std::string> retained_;  // last retained payload per topic: re-sent after a reconnect
};

}  // namespace fleet::mqtt
