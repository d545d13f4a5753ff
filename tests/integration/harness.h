#pragma once
// Integration-test parts, after mosquitto's own test suite: a real broker per test on a free loopback
// port, real processes (tasmota-sim, tasmota-fleet), a temporary directory for their files.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

#include <nlohmann/json.hpp>

namespace it {

std::string fleet_bin();
std::string sim_bin();

int free_port();
bool port_open(int port);
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text);

struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};
RunResult run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {});

class TempDir {
 public:
  TempDir();
  ~TempDir();
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& str() const { return dir_; }

 private:
  std::string dir_;
};

class Process {
 public:
  Process(std::vector<std::string> argv, std::string log_path, std::map<std::string, std::string> env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  bool running();
  void signal(int sig);
  int stop(int sig = 15, std::chrono::milliseconds grace = std::chrono::milliseconds(5000));  // exit status
  std::string log() const { return read_file(log_path_); }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_path_;
};

struct BrokerOptions {
  bool tls = false;
  std::string username;  // with a password: anonymous access is refused
  std::string password;
  std::vector<std::pair<std::string, std::string>> more_users{};  // further user, password pairs
  std::string acl{};  // an ACL file's text (acl_file): who may read and write what
};

class Broker {
 public:
  Broker(const TempDir& dir, BrokerOptions options = {});
  void start();
  void stop();
  int port() const { return port_; }
  std::string url() const;
  std::string ca_file() const { return ca_; }

 private:
  const TempDir& dir_;
  BrokerOptions opt_;
  int port_;
  std::string conf_, ca_;
  std::unique_ptr<Process> proc_;
};

// tasmota-fleet and tasmota-sim as the tests drive them.
nlohmann::json devices(const std::string& db);  // `devices --json`, or [] when it fails
nlohmann::json by_mac(const nlohmann::json& list, const std::string& mac);
// From the simulator's --command-log (the devices' side): what the device (its first topic or its MAC)
// received — the topic it came on and the command as sent ("Reset 6") — and how many commands starting
// with `command` ("Reset 6", "Upgrade") it received, on whichever topic they came.
struct Received {
  std::string topic, command;
  bool dropped = false;  // lost by a fault (--fault …:drop_commands / offline_at_command)
};
std::vector<Received> received_by(const std::string& command_log, const std::string& device);
int received(const std::string& command_log, const std::string& device, const std::string& command);
bool complete(const std::string& db, size_t n);  // n devices known, each with its firmware, online
// tasmota-sim with fast restarts, waiting until every device is connected.
std::unique_ptr<Process> start_sim(const TempDir& dir, const std::string& url, std::vector<std::string> extra,
                                   std::map<std::string, std::string> env = {});
// `serve` on dir/fleet.db; its OTA server on a free loopback port unless the args say otherwise.
std::unique_ptr<Process> start_fleet(const TempDir& dir, std::vector<std::string> args, std::map<std::string, std::string> env = {});
void publish(int broker_port, const std::string& topic, const std::string& payload);  // mosquitto_pub

}  // namespace it
