#include "orchestrator/metrics_server.h"

#include <httplib.h>

#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

namespace fleet::orchestrator {

struct MetricsServer::Impl {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex mu;
  std::string text = "# no snapshot yet\n";
  bool broker = false, database = false;
};

MetricsServer::MetricsServer() : impl_(std::make_unique<Impl>()) {}
MetricsServer::~MetricsServer() { stop(); }

bool MetricsServer::start(const std::string& host, int port, std::string& error) {
  auto& s = impl_->server;
  s.new_task_queue = [] { return new httplib::ThreadPool(2); };
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(impl_->mu);
    res.set_content(impl_->text, "text/plain; version=0.0.4; charset=utf-8");
  });
  s.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(impl_->mu);
    bool ok = impl_->broker && impl_->database;
    res.status = ok ? 200 : 503;
    nlohmann::json j = {{"status", ok ? "ok" : "unhealthy"}, {"broker_connected", impl_->broker}, {"database_writable", impl_->database}};
    res.set_content(j.dump() + "\n", "application/json");
  });
  if (port == 0) {
    impl_->port = s.bind_to_any_port(host);
    if (impl_->port <= 0) {
      error = "cannot bind the metrics server to " + host;
      return false;
    }
  } else {
    if (!s.bind_to_port(host, port)) {
      error = "cannot bind the metrics server to " + host + ":" + std::to_string(port) + " (in use?)";
      return false;
    }
    impl_->port = port;
  }
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  // stop() before the server runs would not stop it (cpp-httplib 0.11): wait until it does.
  for (int i = 0; i < 200 && !impl_->server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return true;
}

int MetricsServer::port() const { return impl_->port; }

void MetricsServer::stop() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void MetricsServer::update(std::string metrics_text, bool broker_connected, bool database_writable) {
  std::lock_guard lock(impl_->mu);
  impl_->text = std::move(metrics_text);
  impl_->broker = broker_connected;
  impl_->database = database_writable;
}

}  // namespace fleet::orchestrator
