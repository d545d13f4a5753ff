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
};

}  // namespace fleet::core
