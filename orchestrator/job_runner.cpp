#include "orchestrator/job_runner.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/utf8_prefix.h"
#include "mqtt/fallback_topic.h"

namespace fleet::orchestrator {

DeviceHttp threaded_device_http() {
  auto pool = std::make_shared<core::WorkerPool>(kDeviceHttpThreads);
  return [pool](const std::string& url, const firmware::HttpRequest& request) {
    auto answer = std::make_shared<std::promise<firmware::Download>>();
    auto future = answer->get_future();
    pool->submit([url, request, answer] { answer->set_value(firmware::http_request(url, request)); });
    return future;
  };
}

DeviceHttp HeldHttp::port() {
  return [this](const std::string& url, const firmware::HttpRequest& request) {
    auto answer = std::make_shared<std::promise<firmware::Download>>();
    auto future = answer->get_future();
    Held h{url, request, std::move(answer)};
    if (holding_) held_.push_back(std::move(h));
    else launch(std::move(h));
    return future;
  };
}

void HeldHttp::launch(Held h) {
  pool_.submit([h = std::move(h), fetch = fetch_, wake = on_answer] {
    h.answer->set_value(fetch(h.url, h.request));
    if (wake) wake();
  });
}

void HeldHttp::release(bool send) {
  holding_ = false;
  for (auto& h : std::exchange(held_, {})) {
    if (send) {
      launch(std::move(h));
      continue;
    }
    firmware::Download not_sent;
    not_sent.error = "not sent: the database commit before it failed";
    h.answer->set_value(std::move(not_sent));
  }
}

std::string masked_command(const std::string& name, const std::string& payload) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.find("password") != std::string::npos) return name + " ****";
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("Password")) {
    j["Password"] = "****";
    return name + " " + j.dump();
  }
  // A Backlog may carry a password command among others.
  if (lower == "backlog") {
    std::string out, item;
    std::string rest = payload;
    std::size_t at = 0;
    while (at <= rest.size()) {
      auto semi = rest.find(';', at);
      item = rest.substr(at, semi == std::string::npos ? std::string::npos : semi - at);
      auto start = item.find_first_not_of(' ');
      auto space = item.find(' ', start == std::string::npos ? 0 : start);
      std::string cmd =
          start == std::string::npos ? "" : item.substr(start, space == std::string::npos ? std::string::npos : space - start);
      std::string cmd_lower = cmd;
      std::transform(cmd_lower.begin(), cmd_lower.end(), cmd_lower.begin(), [](unsigned char c) { return std::tolower(c); });
      out += (out.empty() ? "" : ";") + (cmd_lower.find("password") != std::string::npos ? " " + cmd + " ****" : item);
      if (semi == std::string::npos) break;
      at = semi + 1;
    }
    return name + " " + out;
  }
  return name + " " + payload;
}

JobRunner::JobRunner(core::Transport& transport, const core::Clock& clock, JobRunnerOptions options, DeviceHttp http)
    : transport_(transport), clock_(clock), opt_(std::move(options)), http_(std::move(http)) {}

std::vector<std::string> JobRunner::filters_for(const mqtt::TopicScheme& scheme, const std::vector<std::string>& device_topics) {
  mqtt::TopicScheme defaults;
  std::set<std::string> filters;
  for (const auto& topic : device_topics)
    for (const mqtt::TopicScheme* s : std::initializer_list<const mqtt::TopicScheme*>{&scheme, &defaults})
      for (auto p : {mqtt::Prefix::Stat, mqtt::Prefix::Tele}) filters.insert(s->topic(p, topic, "+"));
  // stat/+/+ covers every stat/<topic>/+ too: those are left out, or a broker delivering one copy per
  // matching subscription would hand each reply to the job twice.
  std::erase_if(filters, [](const std::string& f) { return f.rfind("stat/", 0) == 0 && std::count(f.begin(), f.end(), '/') == 2; });
  filters.insert(mqtt::kFallbackReplyFilter);
  return {filters.begin(), filters.end()};
}

void JobRunner::add(std::shared_ptr<DeviceJob> job) {
  ++jobs_of_[job->mac()];
  waiting_.push_back(std::move(job));
}

// Asked for every device of a rollout on every drive: a lookup, not a scan of the jobs.
bool JobRunner::has(const std::string& mac) const { return jobs_of_.count(mac) > 0; }

void JobRunner::forget(const DeviceJob& job) {
  auto it = jobs_of_.find(job.mac());
  if (it != jobs_of_.end() && --it->second <= 0) jobs_of_.erase(it);
}

void JobRunner::drain() {
  draining_ = true;
  for (auto& [p, a] : active_) {
    a.job->request_stop();
    touched_.push_back(p);                                  // (a job with no safe point to reach may be over now)
    schedule(a, std::numeric_limits<std::int64_t>::min());  // its next safe point may be a time of its own
  }
}

void JobRunner::start_waiting() {
  if (!online_ || draining_) return;
  for (auto it = waiting_.begin(); it != waiting_.end() && active_.size() < opt_.parallel;) {
    auto topics = (*it)->topics();
    bool busy = std::any_of(topics.begin(), topics.end(), [&](const std::string& t) { return by_topic_.count(t) > 0; }) ||
                running_macs_.count((*it)->mac()) > 0;
    if (busy) {  // one job per device at a time
      ++it;
      continue;
    }
    auto job = *it;
    it = waiting_.erase(it);
    auto& a = active_[job.get()];
    a.job = job;
    running_macs_.insert(job->mac());
    for (auto& t : topics) by_topic_[t] = job.get();
    a.topics = std::move(topics);
    for (auto& fb : job->fallbacks()) by_fallback_[fb] = job.get();
    execute(a, job->start(job_now()));
  }
}

// A job is asked for its next time after every call into it, here; one waiting for a device HTTP answer
// is not handed time (what it does next may be a command) and is scheduled again once it has the answer.
// A time the job names later than a second from now is looked at in a second all the same (a bound on
// what a job that names too late a time could cost; the upgrade tests check that none does).
constexpr std::int64_t kLatestWakeMs = 1000;
// A time not after now, named right after on_time(), is next turn's: no job is handed time twice a turn.
constexpr std::int64_t kTimeStepMs = 10;

void JobRunner::schedule(Active& a, std::int64_t not_before) {
  if (a.wake) timers_.erase({*a.wake, a.job.get()});
  a.wake.reset();
  if (a.http || a.job->over()) return;
  auto now = job_now();
  auto at = a.job->wake_at_ms().value_or(std::numeric_limits<std::int64_t>::max());
  a.wake = std::max(std::min(at, now + kLatestWakeMs), not_before);
  timers_.insert({*a.wake, a.job.get()});
}

void JobRunner::execute(Active& a, std::vector<backup::DeviceAction> actions) {
  touched_.push_back(a.job.get());  // (every call into a job is followed by this: only then can it have ended)
  for (auto& act : actions) {
    switch (act.kind) {
      case backup::DeviceAction::Kind::Publish: {
        ++commands_sent_;
        if (!a.job->fallbacks().empty()) {
          // Its own fallback topics only: a device sharing its Topic never hears the command.
          for (const auto& fb : a.job->fallbacks())
            transport_.publish(mqtt::fallback_topic(mqtt::Prefix::Command, fb, act.command.name), act.command.payload);
          if (audit)
            audit(*a.job, "command", "cmnd/" + a.job->fallbacks().front() + ": " + masked_command(act.command.name, act.command.payload));
          break;
        }
        auto topic = a.job->device_topic();
        transport_.publish(opt_.scheme.topic(mqtt::Prefix::Command, topic, act.command.name), act.command.payload);
        // After a Reset 6 the device listens on the default topics: send there too when they differ.
        if (defaults_.full_topic() != opt_.scheme.full_topic() ||
            defaults_.prefix_name(mqtt::Prefix::Command) != opt_.scheme.prefix_name(mqtt::Prefix::Command))
          transport_.publish(defaults_.topic(mqtt::Prefix::Command, topic, act.command.name), act.command.payload);
        if (audit) audit(*a.job, "command", topic + ": " + masked_command(act.command.name, act.command.payload));
        break;
      }
      case backup::DeviceAction::Kind::HttpGet:
      case backup::DeviceAction::Kind::HttpPost: {
        const auto& acc = a.job->access();
        std::string url = "http://" + a.job->ip() + ":" + std::to_string(acc.web_port) + act.path;
        firmware::HttpRequest req;
        if (!acc.web_password.empty()) {
          req.user = acc.web_user;
          req.password = acc.web_password;
        }
        req.max_bytes = 256 * 1024;
        req.timeout_s = 30;
        if (act.kind == backup::DeviceAction::Kind::HttpPost)
          req.upload = firmware::HttpRequest::File{"u2", "Config.dmp", act.upload};
        if (audit)
          audit(*a.job, "command",
                fmt::format("HTTP {} {}", act.kind == backup::DeviceAction::Kind::HttpPost ? "POST" : "GET",
                            url.substr(0, url.find('?'))));
        a.http = http_(url, req);
        with_http_.insert(a.job.get());
        break;
      }
      case backup::DeviceAction::Kind::None:
      case backup::DeviceAction::Kind::Finished:
        break;
    }
  }
  schedule(a, std::numeric_limits<std::int64_t>::min());
}

void JobRunner::on_message(std::string_view topic, std::string_view payload) {
  if (by_topic_.empty()) return;
  std::optional<mqtt::TopicParts> parts;
  DeviceJob* owner = nullptr;
  if (auto fb = mqtt::parse_fallback(topic); fb && fb->prefix == mqtt::Prefix::Stat) {
    if (auto it = by_fallback_.find(fb->device_topic); it != by_fallback_.end()) {
      parts = std::move(fb);
      owner = it->second;
    }
  }
  if (!owner) {
    parts = opt_.scheme.parse(topic);
    if (!parts) parts = defaults_.parse(topic);
    if (!parts || parts->prefix == mqtt::Prefix::Command) return;
    auto it = by_topic_.find(parts->device_topic);
    if (it == by_topic_.end()) return;
    owner = it->second;
  }
  auto& a = active_[owner];
  // A reply that names another device (StatusNET's Mac) is not this job's: one topic, two devices.
  if (payload.find("\"Mac\"") != std::string_view::npos) {
    auto j = nlohmann::json::parse(payload, nullptr, false);
    const nlohmann::json* net = j.is_object() && j.contains("StatusNET") ? &j["StatusNET"] : nullptr;
    if (net && net->is_object() && net->contains("Mac") && (*net)["Mac"].is_string()) {
      std::string mac = (*net)["Mac"].get<std::string>();
      std::transform(mac.begin(), mac.end(), mac.begin(), [](unsigned char c) { return std::toupper(c); });
      if (!a.job->mac().empty() && mac != a.job->mac()) {
        if (audit) audit(*a.job, "reply", fmt::format("{}: a reply from another device ({}) on this topic, ignored", topic, mac));
        return;
      }
    }
  }
  auto before = a.job->progress_key();
  execute(a, a.job->on_message(parts->prefix, parts->suffix, payload, job_now()));
  if (audit && a.job->progress_key() != before)
    audit(*a.job, "reply",
          std::string(topic) + " " + std::string(core::utf8_prefix(payload, 300)) + (payload.size() > 300 ? "…" : ""));
  // A restore may have moved the device to other topics.
  for (auto& t : a.job->topics()) {
    auto& owner_of = by_topic_[t];
    if (owner_of == a.job.get()) continue;
    owner_of = a.job.get();
    if (std::find(a.topics.begin(), a.topics.end(), t) == a.topics.end()) a.topics.push_back(t);
  }
}

std::int64_t JobRunner::job_now() const {
  auto now = clock_.now_ms();
  return (offline_since_ ? *offline_since_ : now) - offline_total_ms_;
}

void JobRunner::set_online(bool online) {
  auto now = clock_.now_ms();
  if (!online && online_) offline_since_ = now;
  online_ = online;
  if (!online || !offline_since_) return;
  auto away = now - *offline_since_;
  offline_total_ms_ += away;
  offline_since_.reset();
  for (auto& [p, a] : active_) {
    touched_.push_back(p);
    if (!a.job->over()) execute(a, a.job->on_broker_back(job_now(), away));
  }
  retire();
}

void JobRunner::tick() {
  auto now = job_now();
  // A device's HTTP answer waits while the broker is away: what the job does next may be a command.
  if (!offline_since_) {
    for (auto it = with_http_.begin(); it != with_http_.end();) {
      auto found = active_.find(*it);
      if (found == active_.end() || !found->second.http) {
        it = with_http_.erase(it);
        continue;
      }
      auto& a = found->second;
      if (a.http->wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        ++it;
        continue;
      }
      it = with_http_.erase(it);  // (first: the job may ask for another one at once)
      auto result = a.http->get();
      a.http.reset();
      execute(a, a.job->on_http(result, now));
    }
    std::vector<DeviceJob*> due;
    for (auto it = timers_.begin(); it != timers_.end() && it->first <= now; ++it) due.push_back(it->second);
    for (auto* job : due) {
      auto& a = active_.at(job);
      if (a.http || a.job->over()) {  // (not handed time: it leaves the timers; one over is retired below)
        touched_.push_back(job);
        schedule(a, std::numeric_limits<std::int64_t>::min());
        continue;
      }
      execute(a, a.job->on_time(now));
      if (a.wake && *a.wake <= now) schedule(a, now + kTimeStepMs);
    }
  }
  if (!touched_.empty()) retire();
  // Last: into the slots freed this turn, and a job started is handed time from the next turn on.
  start_waiting();
}

void JobRunner::retire() {
  auto touched = std::exchange(touched_, {});
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (auto* job : touched) {
    auto it = active_.find(job);
    if (it == active_.end()) continue;
    auto& a = it->second;
    if (!a.job->over() || a.http) continue;
    if (a.wake) timers_.erase({*a.wake, job});  // (given up: no call into it said so)
    for (const auto& t : a.topics)
      if (auto f = by_topic_.find(t); f != by_topic_.end() && f->second == job) by_topic_.erase(f);
    for (auto& fb : a.job->fallbacks())
      if (auto f = by_fallback_.find(fb); f != by_fallback_.end() && f->second == job) by_fallback_.erase(f);
    running_macs_.erase(a.job->mac());
    forget(*a.job);
    done_.push_back(a.job);
    active_.erase(it);
  }
}

void JobRunner::give_up_all(const std::string& why) {
  for (auto& j : waiting_) {
    j->give_up(why);
    forget(*j);
    done_.push_back(j);
  }
  waiting_.clear();
  for (auto& [p, a] : active_) {
    a.job->give_up(why);
    touched_.push_back(p);
  }
  retire();
}

std::vector<std::shared_ptr<DeviceJob>> JobRunner::take_done() { return std::exchange(done_, {}); }

}  // namespace fleet::orchestrator
