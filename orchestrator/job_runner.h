#pragma once
// Runs device jobs on the owner's event loop (the daemon's, or the command line's when no daemon runs):
// at most `parallel` at once and one per device, the devices' replies routed to their job, HTTP to the
// devices' web servers off the loop (results come back as events on a later tick), timers from the
// clock. Never blocks and never sleeps; the owner feeds it messages and calls tick().
#include <cstdint>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/transport.h"
#include "core/worker_pool.h"
#include "orchestrator/device_job.h"

namespace fleet::orchestrator {

struct JobRunnerOptions {
  mqtt::TopicScheme scheme;
  std::size_t parallel = std::numeric_limits<std::size_t>::max();
};

// The device HTTP port: one request, answered later.
using DeviceHttp = std::function<std::future<firmware::Download>(const std::string& url, const firmware::HttpRequest& request)>;
// Each request on one of a few worker threads (libcurl): device HTTP is a backup's download or a
// restore's upload, seconds at most, and a pool keeps a thousand jobs in flight from making a thread each.
constexpr std::size_t kDeviceHttpThreads = 32;
DeviceHttp threaded_device_http();

// Device HTTP held like commands until the loop turn's commit (a settings upload is destructive): a
// request made while holding starts at release(), or is answered "not sent" if the commit failed.
class HeldHttp {
 public:
  using Fetch = std::function<firmware::Download(const std::string& url, const firmware::HttpRequest& request)>;
  explicit HeldHttp(Fetch fetch = firmware::http_request, std::size_t threads = kDeviceHttpThreads)
      : fetch_(std::move(fetch)), pool_(threads) {}
  DeviceHttp port();  // what the runner is given; it must not outlive this
  void hold() { holding_ = true; }
  void release(bool send = true);
  std::function<void()> on_answer;  // called on the answering thread once an answer is ready

 private:
  struct Held {
    std::string url;
    firmware::HttpRequest request;
    std::shared_ptr<std::promise<firmware::Download>> answer;
  };
  void launch(Held h);
  Fetch fetch_;
  bool holding_ = false;
  std::vector<Held> held_;
  core::WorkerPool pool_;  // last: joined first, while what its tasks use still exists
};

class JobRunner {
 public:
  JobRunner(core::Transport& transport, const core::Clock& clock, JobRunnerOptions options,
            DeviceHttp http = threaded_device_http());

  // Queued; it starts when a slot is free, the broker session is up and no other job holds its device.
  void add(std::shared_ptr<DeviceJob> job);
  bool has(const std::string& mac) const;  // a job of this device is queued or running
  // The broker session is up with its subscriptions acknowledged (replies can reach us) or not. While it
  // is not, the jobs' clock stands still (no wait runs out for a reply that cannot reach us, no command
  // is handed to a transport that would drop it); when it is back, each job hears how long it was away.
  void set_online(bool online);
  void on_message(std::string_view topic, std::string_view payload);
  void tick();
  // Jobs that are over (finished or given up), once each.
  std::vector<std::shared_ptr<DeviceJob>> take_done();
  void give_up_all(const std::string& why);  // queued and running, e.g. at the overall time limit
  // The process is stopping: no queued job starts, and every running one is asked to stop at its next
  // safe point (an upgrade job never between Reset 6 and its restore, nor mid-OTA).
  void drain();

  std::size_t running() const { return active_.size(); }
  std::uint64_t commands_sent() const { return commands_sent_; }  // MQTT commands handed to the transport
  std::size_t queued() const { return waiting_.size(); }
  bool idle() const { return active_.empty() && waiting_.empty(); }
  // The topics the runner needs replies on (for a transport of its own: the command line's).
  static std::vector<std::string> filters_for(const mqtt::TopicScheme& scheme, const std::vector<std::string>& device_topics);

  // Every command sent (secrets masked), every reply that moved a job: (job, "command"|"reply", text).
  std::function<void(const DeviceJob& job, const std::string& kind, const std::string& text)> audit;

 private:
  struct Active {
    std::shared_ptr<DeviceJob> job;
    std::optional<std::future<firmware::Download>> http;
    std::optional<std::int64_t> wake;  // its entry in timers_
    std::vector<std::string> topics;   // its entries in by_topic_
  };
  void start_waiting();
  void execute(Active& a, std::vector<backup::DeviceAction> actions);
  void schedule(Active& a, std::int64_t not_before);
  void retire();
  void forget(const DeviceJob& job);

  core::Transport& transport_;
  const core::Clock& clock_;
  JobRunnerOptions opt_;
  mqtt::TopicScheme defaults_;  // after a Reset 6 a device listens and answers on Tasmota's defaults
  DeviceHttp http_;
  bool online_ = false;
  std::optional<std::int64_t> offline_since_;  // clock time the session was lost (after having been up)
  std::int64_t offline_total_ms_ = 0;         // the jobs' clock: the runner's clock minus the time offline
  std::int64_t job_now() const;
  bool draining_ = false;
  std::uint64_t commands_sent_ = 0;
  std::vector<std::shared_ptr<DeviceJob>> waiting_;
  std::map<DeviceJob*, Active> active_;
  // Looked at on every loop turn instead of every active job (1,000 in flight: a loop turn hundreds of
  // times a second asked each whether its answer had come and whether it had finished).
  std::set<DeviceJob*> with_http_;  // the active jobs awaiting a device HTTP answer
  // Each active job's next time (job clock) as it says (wake_at_ms), soonest first: time is handed to the
  // jobs whose wait runs out, not to all 1,000 in flight every few milliseconds.
  std::set<std::pair<std::int64_t, DeviceJob*>> timers_;
  // The jobs handed something since the last retire(): only they can have ended (asking all 1,000 after
  // every reply was a tenth of the loop).
  std::vector<DeviceJob*> touched_;
  std::map<std::string, DeviceJob*> by_topic_;     // every topic of every running job
  std::map<std::string, DeviceJob*> by_fallback_;  // every fallback topic of every running job
  std::vector<std::shared_ptr<DeviceJob>> done_;
  std::map<std::string, int> jobs_of_;  // MAC -> its jobs queued or running
  std::set<std::string> running_macs_;
};

// A command as the audit log keeps it: passwords masked.
std::string masked_command(const std::string& name, const std::string& payload);

}  // namespace fleet::orchestrator
