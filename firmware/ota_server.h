#pragma once
// The built-in OTA server: plain HTTP (Tasmota on ESP8266 cannot fetch over https), read-only, serving
// only files of the firmware store. Runs on its own thread pool so that a hundred slow device downloads
// never hold up the MQTT side; every download is reported (who, what, bytes, time, completed or not).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "firmware/firmware_index.h"

namespace fleet::firmware {

struct OtaServerOptions {
  std::string host = "0.0.0.0";
  int port = 8070;        // 0: any free port
  int threads = 128;      // concurrent downloads
  int send_timeout_s = 60;
};

struct DownloadRecord {
  std::string path;         // as requested
  std::string served_path;  // the store file sent (empty when none)
  std::string client_ip;
  int status = 0;
  std::int64_t bytes_sent = 0;
  std::int64_t bytes_total = 0;
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;
  bool completed = false;
};

class OtaServer {
 public:
  using Resolver = std::function<std::optional<FirmwareEntry>(const std::string& path)>;  // thread-safe
  using FileOf = std::function<std::string(const FirmwareEntry&)>;
  using Reporter = std::function<void(DownloadRecord)>;  // called on the server's threads

  OtaServer(OtaServerOptions options, Resolver resolve, FileOf file_of, Reporter report);
  ~OtaServer();
  // Binds and starts serving; false with `error` set when the address is taken or invalid.
  bool start(std::string& error);
  void stop();
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleet::firmware
