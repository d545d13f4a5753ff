#pragma once
// The simulated devices' web servers: one listener for the whole fleet on a chosen port; a request is
// for the device whose IP it was sent to (each device has its own 127.x address), so
// http://127.1.1.4:PORT/dl is device 127.1.1.4's /dl. The answer comes from the device itself, on the
// runner's thread: requests are handed over through an eventfd, like the OTA fetcher's results.
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/sim_device.h"

namespace fleet::sim {

struct WebJob {
  std::uint32_t device = 0;
  WebRequest request;
  std::promise<WebReply> reply;
};

class WebServer {
 public:
  // `device_by_ip`: the fleet's addresses, fixed for the server's life.
  WebServer(int port, std::unordered_map<std::string, std::uint32_t> device_by_ip);
  ~WebServer();
  bool start(std::string& error);  // binds 0.0.0.0:port, answers loopback clients only
  int port() const;
  int event_fd() const;
  std::vector<std::unique_ptr<WebJob>> take();  // clears the eventfd

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleet::sim
