#include "sim/web_server.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include "backup/transfer_encoding.h"

#include <mutex>
#include <thread>
#include <utility>

namespace fleet::sim {

struct WebServer::Impl {
  int port = 0;
  std::unordered_map<std::string, std::uint32_t> device_by_ip;
  httplib::Server server;
  std::thread thread;
  int efd = -1;
  int listen_fd = -1;
  std::mutex mu;
  std::vector<std::unique_ptr<WebJob>> jobs;

  void handle(const httplib::Request& req, httplib::Response& res) {
    if (req.remote_addr.rfind("127.", 0) != 0) {  // a simulator answers its own machine only
      res.status = 403;
      return;
    }
    auto it = device_by_ip.find(req.local_addr);
    if (it == device_by_ip.end()) {
      res.status = 404;
      return;
    }
    auto job = std::make_unique<WebJob>();
    job->device = it->second;
    job->request.method = req.method;
    job->request.path = req.path;
    if (req.has_header("Authorization")) {
      auto v = req.get_header_value("Authorization");
      if (v.rfind("Basic ", 0) == 0) {
        if (auto raw = backup::base64_decode(v.substr(6))) {
          std::string decoded(raw->begin(), raw->end());
          auto colon = decoded.find(':');
          if (colon != std::string::npos) job->request.basic_auth = std::make_pair(decoded.substr(0, colon), decoded.substr(colon + 1));
        }
      }
    }
    if (req.has_file("u2")) {
      auto f = req.get_file_value("u2");
      job->request.upload = std::vector<std::uint8_t>(f.content.begin(), f.content.end());
    }
    auto future = job->reply.get_future();
    {
      std::lock_guard lock(mu);
      jobs.push_back(std::move(job));
    }
    std::uint64_t one = 1;
    (void)!::write(efd, &one, sizeof one);
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      res.status = 503;
      return;
    }
    auto reply = future.get();
    res.status = reply.status;
    for (auto& [k, v] : reply.headers) res.set_header(k, v);
    res.set_content(std::string(reply.body.begin(), reply.body.end()), reply.content_type);
  }
};

WebServer::WebServer(int port, std::unordered_map<std::string, std::uint32_t> device_by_ip) : impl_(std::make_unique<Impl>()) {
  impl_->port = port;
  impl_->device_by_ip = std::move(device_by_ip);
  impl_->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

WebServer::~WebServer() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  // Requests still waiting get no answer from the device: let them time out with 503.
  if (impl_->efd >= 0) ::close(impl_->efd);
}

bool WebServer::start(std::string& error) {
  auto handler = [this](const httplib::Request& req, httplib::Response& res) { impl_->handle(req, res); };
  impl_->server.Get(R"(/.*)", handler);
  impl_->server.Post(R"(/.*)", handler);
  impl_->server.set_payload_max_length(64 * 1024);  // a settings file is 4 KB
  impl_->server.new_task_queue = [] { return new httplib::ThreadPool(32); };  // requests of many devices at once
  // One listener stands in for the web servers of every simulated device, and cpp-httplib (a compiled
  // library here: its CPPHTTPLIB_LISTEN_BACKLOG cannot be set from this side) listens with a backlog of 5:
  // a rollout's burst of /dl, /rs and /u2 from 200 devices overflowed it, each dropped connection costing
  // its client a SYN resent a second later (bench/rollout.sh counts TcpExt ListenDrops). The socket is
  // kept here and listened on again, with room for a fleet's burst, once bound.
  impl_->server.set_socket_options([this](socket_t sock) {
    httplib::default_socket_options(sock);
    impl_->listen_fd = sock;
  });
  if (impl_->port == 0) {
    impl_->port = impl_->server.bind_to_any_port("0.0.0.0");
    if (impl_->port <= 0) {
      error = "cannot bind the devices' web server";
      return false;
    }
  } else if (!impl_->server.bind_to_port("0.0.0.0", impl_->port)) {
    error = "cannot bind the devices' web server to port " + std::to_string(impl_->port);
    return false;
  }
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, 1024);  // Linux takes a new backlog for a listening socket
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  return true;
}

int WebServer::port() const { return impl_->port; }
int WebServer::event_fd() const { return impl_->efd; }

std::vector<std::unique_ptr<WebJob>> WebServer::take() {
  std::uint64_t n;
  (void)!::read(impl_->efd, &n, sizeof n);
  std::lock_guard lock(impl_->mu);
  return std::exchange(impl_->jobs, {});
}

}  // namespace fleet::sim
