#pragma once
// The broker as every layer sees it: publish only. What arrives comes in as events on the owner's loop.
#include <string>

namespace fleet::core {

class Transport {
 public:
  virtual ~Transport() = default;
  // Fire and forget (QoS 0); must not block the caller.
  virtual void publish(const std::string& topic, const std::string& payload) = 0;
  // Retained, at least once (QoS 1): state topics that a client arriving later must still see.
  virtual void publish_retained(const std::string& topic, const std::string& payload) { publish(topic, payload); }
  // Retained like that, but not kept for a reconnect: its caller sends it again itself when the
  // connection comes back (Home Assistant's 20,000 configs and states of a 10,000-device fleet, kept as
  // text by the transport, were ~20 MB of the daemon).
  virtual void publish_retained_uncached(const std::string& topic, const std::string& payload) { publish_retained(topic, payload); }
};

}  // namespace fleet::core
