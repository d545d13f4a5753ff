#pragma once
// Runs a simulated fleet on a real broker: one MQTT session per device (its own client id and LWT
// will), all driven from a single epoll loop through libmosquitto's external-loop API, so that one
// process carries 10,000 devices without a thread per device.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/device_spec.h"

namespace fleet::sim {

struct RunnerOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string username;
  std::string password;
  std::string ca_file;        // TLS when set
  bool tls_insecure = false;
  int keepalive_s = 30;
  double connects_per_s = 2000;  // ramp, so the broker's accept queue never overflows
  int reconnect_delay_ms = 1000;  // after a broker loss (Tasmota retries every MqttRetry seconds)
  int restart_delay_ms = 1500;    // Offline → Online pause of a restart
  int first_state_ms = 2000;      // first STATE after connecting (then every TelePeriod)
  double tele_scale = 1.0;        // TelePeriod multiplier: < 1 speeds telemetry up for tests
  std::string ready_file;         // written once every device has connected
  std::uint64_t flood_per_device = 0;  // bench: publish this many STATE per device as fast as possible
  const std::atomic<bool>* flood_trigger = nullptr;  // flood once this is set (null: as soon as all connected)
  bool exit_after_flood = true;                      // false: the devices stay connected afterwards
  int ota_threads = 8;                               // concurrent OTA downloads (HTTP worker threads)
  int ota_kbps = 0;                                  // download speed per device (0: unlimited)
  int web_port = -1;                                 // the devices' web servers (/dl, /rs, /u2): -1 off, 0 any free port
  std::string web_port_file;                         // written with the port once the web server listens
  // Every command a device received, as it received it: "<its first topic>\t<MAC>\t<topic>\t<payload>".
  // Tests count what reached a device from here, whichever topic it came on.
  std::string command_log;
};

struct RunnerStats {
  std::uint64_t connects = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t connect_timeouts = 0;  // attempts given up unanswered (and made again)
  std::uint64_t published = 0;
  std::uint64_t commands = 0;
  std::uint64_t restarts = 0;
  std::uint64_t ota_downloads = 0;
  std::int64_t flood_ms = 0;
};

class SimRunner {
 public:
  SimRunner(std::vector<DeviceSpec> devices, RunnerOptions options);
  ~SimRunner();
  // Runs until `stop` is set (or, with flood_per_device, the flood is sent). Returns a process exit code.
  int run(const std::atomic<bool>& stop);
  const RunnerStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleet::sim
