#include "firmware/ota_server.h"

#include <httplib.h>

#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "core/log.h"

namespace fleet::firmware {
namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

struct OtaServer::Impl {
  OtaServerOptions opt;
  Resolver resolve;
  FileOf file_of;
  Reporter report;
  httplib::Server server;
  std::thread thread;
  int bound_port = 0;
  int listen_fd = -1;

  void refuse(const httplib::Request& req, httplib::Response& res, int status, const char* why) {
    res.status = status;
    res.set_content(why, "text/plain");
    DownloadRecord r;
    // As the store names files (no leading '/'), like the records of served downloads.
    r.path = req.path.substr(req.path.empty() || req.path.front() != '/' ? 0 : 1, 300);
    r.client_ip = req.remote_addr;
    r.status = status;
    r.started_ms = r.finished_ms = wall_ms();
    report(std::move(r));
  }

  void serve(const httplib::Request& req, httplib::Response& res) {
    std::string path = req.path;
    if (path.empty() || path.front() != '/') return refuse(req, res, 400, "bad path\n");
    path.erase(0, 1);
    auto entry = resolve(path);
    if (!entry) return refuse(req, res, 404, "not in the firmware store\n");
    auto file = std::make_shared<std::ifstream>(file_of(*entry), std::ios::binary);
    if (!*file) return refuse(req, res, 404, "not in the firmware store\n");
    auto record = std::make_shared<DownloadRecord>();
    record->path = path;
    record->served_path = entry->path;
    record->client_ip = req.remote_addr;
    record->status = 200;
    record->bytes_total = entry->bytes;
    record->started_ms = wall_ms();
    log::info("ota: {} downloads {}{}", req.remote_addr, entry->path, entry->path == path ? "" : " (for " + path + ")");
    if (req.method == "HEAD") {
      res.set_header("Content-Length", std::to_string(entry->bytes));
      res.set_header("Content-Type", "application/octet-stream");
      return;
    }
    res.set_content_provider(
        static_cast<std::size_t>(entry->bytes), "application/octet-stream",
        [file, record](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
          std::vector<char> buf(std::min<std::size_t>(length, 16 * 1024));
          file->seekg(static_cast<std::streamoff>(offset));
          file->read(buf.data(), static_cast<std::streamsize>(buf.size()));
          auto n = file->gcount();
          if (n <= 0) return false;
          if (!sink.write(buf.data(), static_cast<std::size_t>(n))) return false;
          record->bytes_sent = static_cast<std::int64_t>(offset) + n;
          return true;
        },
        [this, record](bool success) {
          record->finished_ms = wall_ms();
          record->completed = success && record->bytes_sent == record->bytes_total;
          report(*record);
        });
  }
};

OtaServer::OtaServer(OtaServerOptions options, Resolver resolve, FileOf file_of, Reporter report) : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  impl_->resolve = std::move(resolve);
  impl_->file_of = std::move(file_of);
  impl_->report = std::move(report);
}

OtaServer::~OtaServer() { stop(); }

bool OtaServer::start(std::string& error) {
  auto& s = impl_->server;
  int threads = std::max(2, impl_->opt.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  s.set_read_timeout(10, 0);
  s.set_write_timeout(impl_->opt.send_timeout_s, 0);
  s.set_keep_alive_max_count(1);  // one download per connection, as the device does it
  s.set_keep_alive_timeout(1);
  s.set_payload_max_length(0);  // nothing is ever uploaded here
  // A small send buffer per connection (inherited from the listening socket): a hundred slow devices
  // cost little memory, and the bytes counted as sent are close to what the device has really taken.
  // cpp-httplib (a compiled library here) listens with a backlog of 5: a wave of devices asking for
  // their image at once overflowed it, each dropped connection costing a device a SYN resent a second
  // later (bench/rollout.sh). The listening socket is kept and listened on again with room, once bound.
  s.set_socket_options([this](socket_t sock) {
    impl_->listen_fd = sock;
    int yes = 1, sndbuf = 32 * 1024;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  });
  auto handler = [this](const httplib::Request& req, httplib::Response& res) { impl_->serve(req, res); };
  s.Get(R"(/.*)", handler);
  auto read_only = [this](const httplib::Request& req, httplib::Response& res) { impl_->refuse(req, res, 405, "read-only\n"); };
  s.Post(R"(/.*)", read_only);
  s.Put(R"(/.*)", read_only);
  s.Delete(R"(/.*)", read_only);
  s.Patch(R"(/.*)", read_only);
  if (impl_->opt.port == 0) {
    impl_->bound_port = s.bind_to_any_port(impl_->opt.host);
    if (impl_->bound_port <= 0) {
      error = "cannot bind the OTA server to " + impl_->opt.host;
      return false;
    }
  } else {
    if (!s.bind_to_port(impl_->opt.host, impl_->opt.port)) {
      error = "cannot bind the OTA server to " + impl_->opt.host + ":" + std::to_string(impl_->opt.port) + " (in use?)";
      return false;
    }
    impl_->bound_port = impl_->opt.port;
  }
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, 1024);  // Linux takes a new backlog for a listening socket
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  return true;
}

void OtaServer::stop() {
  if (!impl_) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int OtaServer::port() const { return impl_->bound_port; }

}  // namespace fleet::firmware
