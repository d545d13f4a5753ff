#include "sim/http_fetch.h"

#include <httplib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "firmware/image.h"

namespace fleet::sim {
namespace {

struct Job {
  std::uint32_t device, generation;
  std::string url;
};

OtaDownload fetch(const std::string& url) {
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
  httplib::Client client(host, port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(30, 0);
  std::vector<std::uint8_t> body;
  bool too_big = false;
  auto res = client.Get(path.c_str(), [&](const char* data, std::size_t n) {
    if (body.size() + n > firmware::kMaxImageBytes) {
      too_big = true;
      return false;
    }
    body.insert(body.end(), data, data + n);
    return true;
  });
  if (!res) return d;
  d.http_status = too_big ? 413 : res->status;
  if (d.http_status == 200) d.body = std::move(body);
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
      FetchResult r{job.device, job.generation, fetch(job.url)};
      {
        std::lock_guard lock(mu);
        done.push_back(std::move(r));
      }
      std::uint64_t one = 1;
      (void)!::write(efd, &one, sizeof one);
    }
  }
};

HttpFetcher::HttpFetcher(int threads) : impl_(std::make_unique<Impl>()) {
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

void HttpFetcher::request(std::uint32_t device, std::uint32_t generation, std::string url) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->jobs.push_back({device, generation, std::move(url)});
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
