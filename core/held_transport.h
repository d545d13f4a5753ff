#pragma once
// A transport that can hold what is published until the writes it depends on are committed: the
// daemon holds every command of a loop turn until the turn's one commit, then releases them in order.
#include <string>
#include <utility>
#include <vector>

#include "core/transport.h"

namespace fleet::core {

class HeldTransport : public Transport {
 public:
  explicit HeldTransport(Transport& inner) : inner_(inner) {}

  void hold() { holding_ = true; }
  // Sends what was held, in order (committed), or drops it (the commit failed).
  void release(bool send = true) {
    holding_ = false;
    auto held = std::exchange(held_, {});
    if (!send) return;
    for (auto& m : held) {
      switch (m.kind) {
        case Kind::Plain: inner_.publish(m.topic, m.payload); break;
        case Kind::Retained: inner_.publish_retained(m.topic, m.payload); break;
        case Kind::RetainedUncached: inner_.publish_retained_uncached(m.topic, m.payload); break;
      }
    }
  }
  std::size_t held() const { return held_.size(); }

  void publish(const std::string& topic, const std::string& payload) override {
    if (holding_) held_.push_back({topic, payload, Kind::Plain});
    else inner_.publish(topic, payload);
  }
  void publish_retained(const std::string& topic, const std::string& payload) override {
    if (holding_) held_.push_back({topic, payload, Kind::Retained});
    else inner_.publish_retained(topic, payload);
  }
  void publish_retained_uncached(const std::string& topic, const std::string& payload) override {
    if (holding_) held_.push_back({topic, payload, Kind::RetainedUncached});
    else inner_.publish_retained_uncached(topic, payload);
  }

 private:
  enum class Kind { Plain, Retained, RetainedUncached };
  struct Message {
    std::string topic, payload;
    Kind kind;
  };
  Transport& inner_;
  bool holding_ = false;
  std::vector<Message> held_;
};

}  // namespace fleet::core
