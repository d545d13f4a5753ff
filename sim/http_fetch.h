#pragma once
// HTTP downloads for simulated OTA, off the MQTT loop: a few worker threads take requests, results are
// collected and an eventfd wakes the epoll loop. Plain http:// only, as ESP8266 Tasmota fetches.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/sim_device.h"

namespace fleet::sim {

struct FetchResult {
  std::uint32_t device = 0;
  std::uint32_t generation = 0;
  OtaDownload download;
};

class HttpFetcher {
 public:
  explicit HttpFetcher(int threads = 8, int kbps = 0);  // kbps 0: as fast as loopback goes
  ~HttpFetcher();
  // max_bytes: the device's room; a larger announced image is not downloaded (declared_size is set).
  void request(std::uint32_t device, std::uint32_t generation, std::string url, std::string source_ip, std::size_t max_bytes);
  std::vector<FetchResult> take();  // finished downloads; clears the eventfd
  int event_fd() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleet::sim
