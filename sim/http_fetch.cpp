#include "sim/http_fetch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cctype>
#include <condition_variable>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "firmware/image.h"

namespace fleet::sim {
namespace {

struct Job {
  std::uint32_t device, generation;
  std::string url, source_ip;
  std::size_t max_bytes;
};

struct Head {
  int status = 0;  // 0: not an HTTP response
  std::optional<std::size_t> length;  // Content-Length
  std::size_t body_at = 0;
};

// The status and Content-Length of a response, once its headers are complete.
std::optional<Head> parse_head(const std::string& raw) {
  auto end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  Head h;
  h.body_at = end + 4;
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12) return h;
  try {
    h.status = std::stoi(raw.substr(9, 3));
  } catch (...) {
    return h;
  }
  std::string head = raw.substr(0, end);
  for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (auto cl = head.find("content-length:"); cl != std::string::npos) h.length = std::strtoull(head.c_str() + cl + 15, nullptr, 10);
  return h;
}

// HTTP/1.0 GET as the ESP8266 updater does it (useHTTP10), from the device's own address: on Linux all
// of 127.0.0.0/8 is local, so simulated devices with 127.x addresses are told apart by the server.
OtaDownload fetch(const std::string& url, const std::string& source_ip, int kbps, std::size_t max_bytes) {
  OtaDownload d;
  d.url = url;
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return d;  // https or garbage: no connection, as on an ESP8266
  auto slash = url.find('/', scheme.size());
  std::string host_port = url.substr(scheme.size(), slash == std::string::npos ? std::string::npos : slash - scheme.size());
  std::string path = slash == std::string::npos ? "/" : url.substr(slash);
  std::string host = host_port;
  int port = 80;
  if (auto colon = host_port.rfind(':'); colon != std::string::npos) {
    host = host_port.substr(0, colon);
    try {
      port = std::stoi(host_port.substr(colon + 1));
    } catch (...) {
      return d;
    }
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &to.sin_addr) != 1) return d;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return d;
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  // An ESP8266's lwIP offers a window of a few KB: a small receive buffer makes the server see the same
  // slow reader instead of handing the whole image to loopback's large buffers at once, and an image
  // refused after its headers is really not downloaded.
  int rcvbuf = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  if (source_ip.rfind("127.", 0) == 0 && inet_pton(AF_INET, source_ip.c_str(), &from.sin_addr) == 1)
    (void)::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return d;
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + host_port + "\r\nUser-Agent: ESP8266-http-Update\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return d;
  }
  std::string raw;
  char buf[16384];
  // A real ESP8266 takes its image at tens of KB/s: --ota-kbps paces the reads the same way.
  std::size_t chunk = kbps > 0 ? std::min<std::size_t>(sizeof buf, static_cast<std::size_t>(kbps) * 1024 / 10 + 1) : sizeof buf;
  auto started = std::chrono::steady_clock::now();
  std::optional<Head> head;
  for (;;) {
    ssize_t n = ::recv(fd, buf, chunk, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
    if (!head && (head = parse_head(raw)) && head->status == 200 && head->length && *head->length > max_bytes) {
      // The updater reads the headers first and gives up on an image larger than its room.
      ::close(fd);
      d.http_status = 200;
      d.declared_size = *head->length;
      return d;
    }
    if (kbps > 0) std::this_thread::sleep_until(started + std::chrono::microseconds(raw.size() * 1000000 / (static_cast<std::size_t>(kbps) * 1024)));
    if (raw.size() > firmware::kMaxImageBytes + 65536) break;
  }
  ::close(fd);
  if (!head) head = parse_head(raw);
  if (!head || head->status == 0) return d;
  d.http_status = head->status;
  if (d.http_status != 200) return d;
  // The updater needs the size (Content-Length) and reads exactly that much.
  if (!head->length) return d;
  std::size_t length = *head->length;
  std::size_t have = raw.size() - head->body_at;
  if (have < length) {
    d.http_status = 0;  // connection dropped mid-download
    return d;
  }
  auto body = raw.begin() + static_cast<std::ptrdiff_t>(head->body_at);
  d.body.assign(body, body + static_cast<std::ptrdiff_t>(length));
  return d;
}

}  // namespace

struct HttpFetcher::Impl {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> jobs;
  std::vector<FetchResult> done;
  std::vector<std::thread> workers;
  bool stopping = false;
  int kbps = 0;
  int efd = -1;

  void work() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stopping || !jobs.empty(); });
        if (stopping) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      FetchResult r{job.device, job.generation, fetch(job.url, job.source_ip, kbps, job.max_bytes)};
      {
        std::lock_guard lock(mu);
        done.push_back(std::move(r));
      }
      std::uint64_t one = 1;
      (void)!::write(efd, &one, sizeof one);
    }
  }
};

HttpFetcher::HttpFetcher(int threads, int kbps) : impl_(std::make_unique<Impl>()) {
  impl_->kbps = kbps;
  impl_->efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  for (int i = 0; i < threads; ++i) impl_->workers.emplace_back([this] { impl_->work(); });
}

HttpFetcher::~HttpFetcher() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->workers) t.join();
  if (impl_->efd >= 0) ::close(impl_->efd);
}

void HttpFetcher::request(std::uint32_t device, std::uint32_t generation, std::string url, std::string source_ip, std::size_t max_bytes) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->jobs.push_back({device, generation, std::move(url), std::move(source_ip), max_bytes});
  }
  impl_->cv.notify_one();
}

std::vector<FetchResult> HttpFetcher::take() {
  std::uint64_t n;
  while (::read(impl_->efd, &n, sizeof n) > 0) {
  }
  std::lock_guard lock(impl_->mu);
  std::vector<FetchResult> out;
  out.swap(impl_->done);
  return out;
}

int HttpFetcher::event_fd() const { return impl_->efd; }

}  // namespace fleet::sim
