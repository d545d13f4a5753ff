#pragma once
// Where the broker is and how to log in. The password never leaves this struct in clear text:
// describe() masks it for logs.
#include <string>

namespace fleet::mqtt {

struct BrokerConfig {
  std::string url = "mqtt://127.0.0.1:1883";  // mqtt://host[:port] or mqtts://host[:port]
  std::string client_id = "tasmota-fleet";
  std::string username;
  std::string password;
  std::string ca_file;    // TLS: trust these CAs (else the system store)
  std::string cert_file;  // TLS client certificate (optional)
  std::string key_file;
  bool insecure = false;  // TLS without verifying the server (testing only)
  int keepalive_s = 30;
  int min_retry_s = 1;
  int max_retry_s = 30;
  // The client's own status topic: `will_offline` retained as its last will, `birth_online` retained
  // after every connect (the daemon's tasmota-fleet/v1/status). Empty: none.
  std::string status_topic;
  std::string birth_online = "online";
  std::string will_offline = "offline";

  bool tls() const;
  std::string paho_uri() const;  // "tcp://host:port" / "ssl://host:port"; throws on a bad URL
  std::string describe() const;  // for logs: URL, client id, user, never the password
};

}  // namespace fleet::mqtt
