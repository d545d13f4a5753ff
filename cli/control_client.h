#pragma once
// The command line as a client of the daemon's control API: is a daemon there (its retained status
// topic says online), and one request answered on a reply topic of our own.
#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "mqtt/broker_config.h"

namespace fleet::cli {

class ControlClient {
 public:
  ControlClient(mqtt::BrokerConfig broker, std::string api_base);
  // Waits up to `wait` for the retained status; false when it is not "online" or the broker is unreachable.
  bool daemon_online(std::chrono::milliseconds wait);
  // Sends the request and waits for its answer; the answer's "result", or its error.
  Result<nlohmann::json> request(nlohmann::json request, std::chrono::milliseconds timeout);

 private:
  mqtt::BrokerConfig broker_;
  std::string base_;
};

}  // namespace fleet::cli
