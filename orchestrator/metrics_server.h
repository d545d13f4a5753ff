#pragma once
// `serve --metrics-listen HOST:PORT`: GET /metrics (Prometheus text) and GET /healthz (whether the broker
// session is up and the database writable: 200 or 503, with a JSON body saying which). Its own thread;
// it serves the latest snapshot the event loop handed it, so a scrape never touches the loop's state.
#include <memory>
#include <string>

namespace fleet::orchestrator {

class MetricsServer {
 public:
  MetricsServer();
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds (port 0: any free one) and serves; false with the reason when it cannot bind.
  bool start(const std::string& host, int port, std::string& error);
  int port() const;
  void stop();
  void update(std::string metrics_text, bool broker_connected, bool database_writable);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleet::orchestrator
