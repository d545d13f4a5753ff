#include "mqtt/broker_config.h"

#include <stdexcept>

namespace fleet::mqtt {

bool BrokerConfig::tls() const { return url.starts_with("mqtts://") || url.starts_with("ssl://"); }

std::string BrokerConfig::paho_uri() const {
  std::string rest;
  bool secure = false;
  for (auto [scheme, is_tls] : {std::pair{"mqtt://", false}, {"tcp://", false}, {"mqtts://", true}, {"ssl://", true}}) {
    std::string s = scheme;
    if (url.starts_with(s)) {
      rest = url.substr(s.size());
      secure = is_tls;
      break;
    }
  }
  if (rest.empty()) throw std::invalid_argument("broker URL '" + url + "' must start with mqtt:// or mqtts://");
  if (auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  if (rest.find('@') != std::string::npos)
    throw std::invalid_argument("put credentials in --username/--password, not in the broker URL");
  if (rest.empty()) throw std::invalid_argument("broker URL '" + url + "' has no host");
  bool has_port = rest.rfind(':') != std::string::npos && rest.back() != ']';
  if (!has_port) rest += secure ? ":8883" : ":1883";
  return (secure ? "ssl://" : "tcp://") + rest;
}

std::string BrokerConfig::describe() const {
  std::string s = url + " as '" + client_id + "'";
  if (!username.empty()) s += " user '" + username + "'" + (password.empty() ? "" : " (password set)");
  if (tls()) s += insecure ? " TLS (server not verified)" : " TLS";
  return s;
}

}  // namespace fleet::mqtt
