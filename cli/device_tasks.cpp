#include "cli/device_tasks.h"

#include <unistd.h>

#include <algorithm>
#include <deque>
#include <future>
#include <map>
#include <set>

#include "inventory/log.h"
#include "inventory/ports.h"
#include "mqtt/event_queue.h"
#include "mqtt/paho_transport.h"

namespace fleet::cli {
namespace {

struct Running {
  DeviceTask* task = nullptr;
  std::optional<std::future<firmware::Download>> http;
};

}  // namespace

void run_device_tasks(const TaskRunOptions& o, std::vector<std::unique_ptr<DeviceTask>>& tasks) {
  if (tasks.empty()) return;
  // Replies may come on the configured topics or, after a Reset 6, on Tasmota's defaults.
  mqtt::TopicScheme fallback;
  std::set<std::string> filters;
  for (auto& t : tasks)
    for (const auto& topic : t->topics())
      for (const mqtt::TopicScheme* s : std::initializer_list<const mqtt::TopicScheme*>{&o.scheme, &fallback})
        for (auto p : {mqtt::Prefix::Stat, mqtt::Prefix::Tele}) filters.insert(s->topic(p, topic, "+"));
  auto broker = o.broker;
  broker.client_id += "-cli-" + std::to_string(::getpid());  // never the daemon's id: that would disconnect it
  mqtt::EventQueue events;
  mqtt::PahoTransport transport(broker, std::vector<std::string>(filters.begin(), filters.end()), events);
  inventory::SystemClock clock;
  transport.start();
  const std::int64_t started = clock.now_ms();
  std::deque<DeviceTask*> waiting;
  for (auto& t : tasks) waiting.push_back(t.get());
  std::map<DeviceTask*, Running> active;
  std::map<std::string, DeviceTask*> by_topic;  // every topic of every active task
  bool subscribed = false;
  bool ever_subscribed = false;

  auto execute = [&](Running& r, std::vector<backup::DeviceAction> actions, std::int64_t now) {
    for (auto& a : actions) {
      switch (a.kind) {
        case backup::DeviceAction::Kind::Publish:
          transport.publish(o.scheme.topic(mqtt::Prefix::Command, r.task->device_topic(), a.command.name), a.command.payload);
          // After a Reset 6 the device listens on the default topics: send there too when they differ.
          if (fallback.full_topic() != o.scheme.full_topic() || fallback.prefix_name(mqtt::Prefix::Command) != o.scheme.prefix_name(mqtt::Prefix::Command))
            transport.publish(fallback.topic(mqtt::Prefix::Command, r.task->device_topic(), a.command.name), a.command.payload);
          break;
        case backup::DeviceAction::Kind::HttpGet:
        case backup::DeviceAction::Kind::HttpPost: {
          const auto& acc = r.task->access();
          std::string url = "http://" + r.task->ip() + ":" + std::to_string(acc.web_port) + a.path;
          firmware::HttpRequest req;
          if (!acc.web_password.empty()) {
            req.user = acc.web_user;
            req.password = acc.web_password;
          }
          req.max_bytes = 256 * 1024;
          req.timeout_s = 30;
          if (a.kind == backup::DeviceAction::Kind::HttpPost) req.upload = firmware::HttpRequest::File{"u2", "Config.dmp", a.upload};
          r.http = std::async(std::launch::async, [url, req] { return firmware::http_request(url, req); });
          break;
        }
        case backup::DeviceAction::Kind::None:
        case backup::DeviceAction::Kind::Finished: break;
      }
    }
    (void)now;
  };

  while (!waiting.empty() || !active.empty()) {
    auto now = clock.now_ms();
    if (!ever_subscribed && now - started > o.connect_timeout_ms) {
      for (auto* t : waiting) t->give_up("the broker could not be reached: " + broker.describe());
      break;
    }
    if (now - started > o.overall_timeout_ms) {
      for (auto& [topic, r] : active) r.task->give_up("the run took longer than its time limit");
      for (auto* t : waiting) t->give_up(subscribed ? "the run took longer than its time limit" : "the broker could not be reached: " + broker.describe());
      break;
    }
    transport.maintain(now);
    if (subscribed) {
      while (!waiting.empty() && static_cast<int>(active.size()) < o.parallel) {
        auto* t = waiting.front();
        waiting.pop_front();
        auto topics = t->topics();
        if (std::any_of(topics.begin(), topics.end(), [&](const std::string& x) { return by_topic.count(x) > 0; })) {
          waiting.push_back(t);  // one job per device at a time
          break;
        }
        auto& r = active[t];
        r.task = t;
        for (auto& x : topics) by_topic[x] = t;
        execute(r, t->start(now), now);
      }
    }
    for (auto& e : events.pop_all(std::chrono::milliseconds(50))) {
      if (e.kind == mqtt::Event::Subscribed) subscribed = ever_subscribed = true;
      if (e.kind == mqtt::Event::Connected) subscribed = false;
      if (e.kind != mqtt::Event::Message) continue;
      auto parts = o.scheme.parse(e.topic);
      if (!parts) parts = fallback.parse(e.topic);
      if (!parts) continue;
      auto owner = by_topic.find(parts->device_topic);
      if (owner == by_topic.end()) continue;
      auto& r = active[owner->second];
      execute(r, r.task->on_message(parts->prefix, parts->suffix, e.payload, clock.now_ms()), clock.now_ms());
    }
    now = clock.now_ms();
    for (auto it = active.begin(); it != active.end();) {
      auto& r = it->second;
      if (r.http && r.http->wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
        auto result = r.http->get();
        r.http.reset();
        execute(r, r.task->on_http(result, now), now);
      }
      if (!r.http) execute(r, r.task->on_time(now), now);
      if ((r.task->finished() || !r.task->gave_up().empty()) && !r.http) {
        std::erase_if(by_topic, [&](const auto& kv) { return kv.second == r.task; });
        it = active.erase(it);
      } else {
        ++it;
      }
    }
  }
  transport.stop();
}

}  // namespace fleet::cli
