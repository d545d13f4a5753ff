#include "sim/sim_runner.h"

#include <cstdio>

#include <sys/socket.h>

#include "sim/http_fetch.h"
#include "sim/web_server.h"

#include <mosquitto.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <queue>
#include <random>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "sim/sim_device.h"
#include "sim/text.h"

namespace fleet::sim {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One file descriptor per device: ask for what 10,000 sessions need, within the hard limit.
void raise_fd_limit(std::size_t want) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t target = std::min<rlim_t>(rl.rlim_max, want);
  if (rl.rlim_cur < target) {
    rl.rlim_cur = target;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int highest_open_fd() {
  int highest = 2;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    try {
      highest = std::max(highest, std::stoi(entry.path().filename().string()));
    } catch (...) {
    }
  }
  return highest;
}

// mosquitto_new() opens a socket pair per client only to wake libmosquitto's own threaded loop. An
// external loop never reads it, and two extra descriptors per device would exhaust a 20,000 limit
// at 10,000 devices. libmosquitto goes on without the pair when it cannot open one, so clients are
// created while the soft limit leaves no free descriptor, then the limit is restored.
class NoSocketPairs {
 public:
  NoSocketPairs() {
    if (getrlimit(RLIMIT_NOFILE, &saved_) != 0) return;
    rlimit tight = saved_;
    tight.rlim_cur = static_cast<rlim_t>(highest_open_fd() + 1);
    active_ = tight.rlim_cur < saved_.rlim_cur && setrlimit(RLIMIT_NOFILE, &tight) == 0;
  }
  ~NoSocketPairs() {
    if (active_) setrlimit(RLIMIT_NOFILE, &saved_);
  }

 private:
  rlimit saved_{};
  bool active_ = false;
};

enum class TimerKind { Connect, ConnectTimeout, State, Boot, Idle, Crash };

struct Timer {
  std::int64_t at;
  std::uint32_t device;
  TimerKind kind;
  std::uint32_t generation;
  bool operator>(const Timer& o) const { return at > o.at; }
};

}  // namespace

struct SimRunner::Impl {
  struct Slot {
    Impl* owner = nullptr;
    std::uint32_t index = 0;
    std::unique_ptr<SimDevice> device;
    mosquitto* mosq = nullptr;
    int fd = -1;
    std::uint32_t events = 0;    // what epoll watches for this fd
    std::uint32_t generation = 0;  // bumps on every (dis)connect: stale timers are ignored
    bool connected = false;
    bool ever_connected = false;
    std::string will_topic;
    std::uint64_t flood_left = 0;
    bool restart_pending = false;  // restarts happen after the callback: libmosquitto only queues inside one
    bool restart_when_idle = false;  // … or once no command has come for a while (Tasmota's drained backlog)
    std::int64_t last_command_ms = 0;
    bool bricked = false;          // flashed an image it cannot boot: gone for good
    std::string label;             // its topic at start, naming it in the command log
    // Faults (sim/faults.h) that count: commands still to lose, commands received so far, and whether
    // the coming boot follows a crash.
    int drop_left = 0;
    int commands_seen = 0;
    bool offline_done = false;  // the offline_on fault struck already
    bool crash_boot = false;
  };
  // How long after connecting a boot-loop device crashes: well within Tasmota's 10 s fast-reboot
  // window (BOOT_LOOP_TIME), and within a short health window.
  static constexpr std::int64_t kCrashAfterMs = 1000;
  // How long a connection attempt may go unanswered before the device tries again.
  static constexpr std::int64_t kConnectTimeoutMs = 5000;
  static constexpr std::uint32_t kFetchTag = 0xFFFFFFFFu;  // epoll data of the OTA fetcher's eventfd
  // How long a device waits, after the last command, before the restart a Backlog asked for: Tasmota
  // counts restart_flag (2) down once a second while its backlog is empty.
  static constexpr std::int64_t kIdleRestartMs = 1000;
  static constexpr std::uint32_t kWebTag = 0xFFFFFFFEu;    // … and of the web server's

  RunnerOptions opt;
  std::vector<Slot> slots;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> command_log{nullptr, &std::fclose};
  RunnerStats stats;
  int epfd = -1;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers;
  std::size_t connected_once = 0;
  bool ready_written = false;
  std::mt19937 rng{12345};
  std::int64_t flood_started = 0;
  std::unique_ptr<HttpFetcher> fetcher;
  std::unique_ptr<WebServer> web;

  Impl(std::vector<DeviceSpec> devices, RunnerOptions o) : opt(std::move(o)) {
    mosquitto_lib_init();
    raise_fd_limit(devices.size() + 256);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) throw std::runtime_error("epoll_create1 failed");
    slots.resize(devices.size());
    if (!opt.command_log.empty()) {
      command_log.reset(std::fopen(opt.command_log.c_str(), "a"));
      if (!command_log) throw std::runtime_error("cannot open the command log " + opt.command_log);
    }
    auto now = now_ms();
    {
      NoSocketPairs no_pairs;  // nothing else may open a file in this scope
      for (std::uint32_t i = 0; i < devices.size(); ++i) {
        Slot& s = slots[i];
        s.owner = this;
        s.index = i;
        // The device's MqttPassword is the one it connects with (FileDownload/FileUpload quote it).
        if (devices[i].settings.mqtt_password.empty()) devices[i].settings.mqtt_password = opt.password;
        s.label = devices[i].settings.topic;
        s.drop_left = devices[i].faults.drop_commands;
        s.device = std::make_unique<SimDevice>(std::move(devices[i]), now);
        s.mosq = mosquitto_new(s.device->client_id().c_str(), true, &s);
        if (!s.mosq) throw std::runtime_error("mosquitto_new failed");
      }
    }
    for (std::uint32_t i = 0; i < slots.size(); ++i) {
      Slot& s = slots[i];
      // No Nagle: a device answering several commands at once would otherwise hold its later replies
      // for the broker's delayed ACK (~40 ms each), a delay of the host's TCP stack, not of the device.
      mosquitto_int_option(s.mosq, MOSQ_OPT_TCP_NODELAY, 1);
      mosquitto_connect_callback_set(s.mosq, &Impl::on_connect);
      mosquitto_message_callback_set(s.mosq, &Impl::on_message);
      if (!opt.username.empty()) mosquitto_username_pw_set(s.mosq, opt.username.c_str(), opt.password.c_str());
      if (!opt.ca_file.empty()) {
        if (mosquitto_tls_set(s.mosq, opt.ca_file.c_str(), nullptr, nullptr, nullptr, nullptr) != MOSQ_ERR_SUCCESS)
          throw std::runtime_error("TLS setup failed for CA file " + opt.ca_file);
        mosquitto_tls_insecure_set(s.mosq, opt.tls_insecure);
      }
      // Ramp the connections up rather than opening 10,000 at once.
      timers.push({now + static_cast<std::int64_t>(i * 1000.0 / opt.connects_per_s), i, TimerKind::Connect, 0});
    }
    fetcher = std::make_unique<HttpFetcher>(opt.ota_threads, opt.ota_kbps);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = kFetchTag;
    epoll_ctl(epfd, EPOLL_CTL_ADD, fetcher->event_fd(), &ev);
    if (opt.web_port >= 0) {
      std::unordered_map<std::string, std::uint32_t> by_ip;
      for (auto& s : slots) by_ip[s.device->spec().ip] = s.index;
      web = std::make_unique<WebServer>(opt.web_port, std::move(by_ip));
      std::string error;
      if (!web->start(error)) throw std::runtime_error(error);
      log::info("sim: devices' web servers on port {}", web->port());
      if (!opt.web_port_file.empty()) std::ofstream(opt.web_port_file) << web->port() << "\n";
      epoll_event wev{};
      wev.events = EPOLLIN;
      wev.data.u32 = kWebTag;
      epoll_ctl(epfd, EPOLL_CTL_ADD, web->event_fd(), &wev);
    }
  }

  ~Impl() {
    for (auto& s : slots)
      if (s.mosq) mosquitto_destroy(s.mosq);
    if (epfd >= 0) close(epfd);
    mosquitto_lib_cleanup();
  }

  void publish(Slot& s, const std::string& topic, const std::string& payload, bool retain, int qos = 0) {
    if (mosquitto_publish(s.mosq, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(), qos, retain) ==
        MOSQ_ERR_SUCCESS)
      ++stats.published;
  }

  void watch(Slot& s) {
    if (s.fd < 0) return;
    std::uint32_t want = EPOLLIN | (mosquitto_want_write(s.mosq) ? EPOLLOUT : 0u);
    if (want == s.events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u32 = s.index;
    epoll_ctl(epfd, EPOLL_CTL_MOD, s.fd, &ev);
    s.events = want;
  }

  void attach(Slot& s) {
    s.fd = mosquitto_socket(s.mosq);
    if (s.fd < 0) return;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;  // EPOLLOUT: the CONNECT packet is still to be written
    ev.data.u32 = s.index;
    s.events = ev.events;
    epoll_ctl(epfd, EPOLL_CTL_ADD, s.fd, &ev);
  }

  void detach(Slot& s) {
    if (s.fd >= 0) epoll_ctl(epfd, EPOLL_CTL_DEL, s.fd, nullptr);
    s.fd = -1;
    s.events = 0;
  }

  void connect(Slot& s) {
    s.will_topic = s.device->lwt_topic();
    mosquitto_will_set(s.mosq, s.will_topic.c_str(), 7, "Offline", 1, true);
    int rc = s.ever_connected || s.generation > 0 ? mosquitto_reconnect_async(s.mosq)
                                                   : mosquitto_connect_async(s.mosq, opt.host.c_str(), opt.port, opt.keepalive_s);
    ++s.generation;
    if (rc != MOSQ_ERR_SUCCESS) {
      schedule_reconnect(s, opt.reconnect_delay_ms);
      return;
    }
    attach(s);
    timers.push({now_ms() + kConnectTimeoutMs, s.index, TimerKind::ConnectTimeout, s.generation});
  }

  void schedule_reconnect(Slot& s, int delay_ms) {
    int jitter = std::uniform_int_distribution<int>(0, std::max(1, delay_ms / 4))(rng);
    timers.push({now_ms() + delay_ms + jitter, s.index, TimerKind::Connect, s.generation});
  }

  void lost(Slot& s) {
    detach(s);
    if (s.bricked) return;
    if (s.connected) ++stats.disconnects;
    s.connected = false;
    ++s.generation;
    schedule_reconnect(s, opt.reconnect_delay_ms);
  }

  static void on_connect(mosquitto*, void* user, int rc) {
    auto& s = *static_cast<Slot*>(user);
    s.owner->connected(s, rc);
  }

  static void on_message(mosquitto*, void* user, const mosquitto_message* m) {
    auto& s = *static_cast<Slot*>(user);
    s.owner->command(s, m);
  }

  void connected(Slot& s, int rc) {
    if (rc != 0) {
      log::warn("sim: {} refused by the broker (CONNACK {})", s.device->topic(), rc);
      return;  // the broker closes the socket; the read error schedules the retry
    }
    s.connected = true;
    ++stats.connects;
    if (!s.ever_connected) {
      s.ever_connected = true;
      ++connected_once;
    }
    // As Tasmota's MqttConnected(): the LWT Online first, then the command subscriptions, then INFO1-3.
    auto now = now_ms();
    auto announce = s.device->on_connected(now);
    if (!announce.empty()) publish(s, announce[0].topic, announce[0].payload, announce[0].retain, announce[0].retain ? 1 : 0);
    for (const auto& f : s.device->command_filters()) mosquitto_subscribe(s.mosq, nullptr, f.c_str(), 0);
    for (std::size_t i = 1; i < announce.size(); ++i)
      publish(s, announce[i].topic, announce[i].payload, announce[i].retain, announce[i].retain ? 1 : 0);
    if (auto url = s.device->take_boot_fetch()) fetcher->request(s.index, s.generation, *url, s.device->spec().ip, s.device->ota_room_bytes());
    if (s.device->crash_due()) timers.push({now + kCrashAfterMs, s.index, TimerKind::Crash, s.generation});
    if (opt.flood_per_device == 0 && s.device->spec().settings.tele_period > 0)
      timers.push({now + opt.first_state_ms + std::uniform_int_distribution<int>(0, 250)(rng), s.index, TimerKind::State,
                   s.generation});
  }

  void command(Slot& s, const mosquitto_message* m) {
    ++stats.commands;
    std::string payload(static_cast<const char*>(m->payload), static_cast<std::size_t>(std::max(0, m->payloadlen)));
    ++s.commands_seen;
    const auto& faults = s.device->spec().faults;
    std::string_view name(m->topic);
    name = name.substr(name.rfind('/') + 1);
    bool offline = faults.offline_at_command == s.commands_seen ||
                   (!faults.offline_on.empty() && !s.offline_done && upper(name) == upper(faults.offline_on));
    if (offline) s.offline_done = true;
    bool dropped = offline || s.drop_left > 0;
    if (command_log) {
      // One JSON object a line: when, which device (its first topic and MAC), the topic and the payload as received.
      nlohmann::json line = {{"t", now_ms()}, {"device", s.label}, {"mac", s.device->spec().mac}, {"topic", m->topic}, {"payload", payload}};
      if (dropped) line["dropped"] = true;
      auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      std::fprintf(command_log.get(), "%s\n", text.c_str());
      std::fflush(command_log.get());
    }
    if (offline) return go_offline(s, faults.offline_ms);
    if (s.drop_left > 0) {
      --s.drop_left;
      return;
    }
    auto reaction = s.device->handle(m->topic, payload, now_ms());
    for (const auto& o : reaction.publish) publish(s, o.topic, o.payload, o.retain);
    if (reaction.fetch) fetcher->request(s.index, s.generation, *reaction.fetch, s.device->spec().ip, s.device->ota_room_bytes());
    if (reaction.restart) s.restart_pending = true;
    s.last_command_ms = now_ms();
    if (reaction.restart_when_idle && !s.restart_when_idle) {
      s.restart_when_idle = true;
      timers.push({now_ms() + kIdleRestartMs, s.index, TimerKind::Idle, s.generation});
    }
  }

  // OTA downloads finished on the fetcher's threads: the device decides, on this thread.
  void fetched() {
    for (auto& r : fetcher->take()) {
      Slot& s = slots[r.device];
      if (s.bricked) continue;
      auto reaction = s.device->ota_downloaded(r.download, now_ms());
      ++stats.ota_downloads;
      for (const auto& o : reaction.publish) publish(s, o.topic, o.payload, o.retain);
      if (reaction.fetch) fetcher->request(s.index, s.generation, *reaction.fetch, s.device->spec().ip, s.device->ota_room_bytes());
      if (s.fd >= 0) mosquitto_loop_write(s.mosq, 1);
      if (reaction.bricked) {
        brick(s);
      } else if (reaction.restart) {
        if (s.fd >= 0) restart(s);
        else s.device->reboot(now_ms());  // offline anyway: boots into the new image when it reconnects
      } else {
        watch(s);
      }
    }
  }

  // Web requests for the devices, answered on this thread.
  void web_requests() {
    for (auto& job : web->take()) {
      Slot& s = slots[job->device];
      if (s.bricked || s.fd < 0) {  // off the network: no web server either
        WebReply r;
        r.status = 503;
        job->reply.set_value(std::move(r));
        continue;
      }
      auto reply = s.device->web(job->request);
      bool restart_after = reply.restart;
      job->reply.set_value(std::move(reply));
      if (restart_after) restart(s);
    }
  }

  void brick(Slot& s) {
    // No DISCONNECT: the socket just dies, so the broker publishes the LWT "Offline" will.
    log::warn("sim: {} flashed an image it cannot boot: it stays off the network", s.device->topic());
    s.bricked = true;
    if (s.fd >= 0) ::shutdown(s.fd, SHUT_RDWR);
    detach(s);
    s.connected = false;
    ++s.generation;
  }

  // Fault: off the network for a while (Wi-Fi lost), without a restart; the broker publishes the will.
  void go_offline(Slot& s, int for_ms) {
    log::info("sim: {} drops off the network for {} ms", s.device->topic(), for_ms);
    if (s.fd >= 0) ::shutdown(s.fd, SHUT_RDWR);
    detach(s);
    if (s.connected) ++stats.disconnects;
    s.connected = false;
    ++s.generation;
    timers.push({now_ms() + for_ms, s.index, TimerKind::Connect, s.generation});
  }

  int restart_delay(const Slot& s) const {
    int own = s.device->spec().faults.restart_ms;
    return own >= 0 ? own : opt.restart_delay_ms;
  }

  void restart(Slot& s) {
    // A restarting Tasmota drops off the broker: Offline, a pause, then a fresh boot.
    ++stats.restarts;
    s.restart_when_idle = false;
    publish(s, s.will_topic, "Offline", true, 1);
    mosquitto_loop_write(s.mosq, 1);
    mosquitto_disconnect(s.mosq);
    detach(s);
    s.connected = false;
    ++s.generation;
    timers.push({now_ms() + restart_delay(s), s.index, TimerKind::Boot, s.generation});
  }

  void fire(const Timer& t) {
    Slot& s = slots[t.device];
    if (t.generation != s.generation) return;
    switch (t.kind) {
      case TimerKind::Connect:
        if (!s.connected && s.fd < 0) connect(s);
        break;
      case TimerKind::ConnectTimeout:
        // No CONNACK in time: a fresh attempt. A SYN that the broker's full accept queue dropped is sent
        // again by the kernel only after 1, 3, 7, 15, 31 s: a device could take a minute to come up.
        if (s.connected) break;
        ++stats.connect_timeouts;
        detach(s);
        connect(s);
        break;
      case TimerKind::Boot:
        if (std::exchange(s.crash_boot, false)) s.device->crash(now_ms());
        else s.device->reboot(now_ms());
        connect(s);
        break;
      case TimerKind::Crash:
        // Fault: the new firmware crashes soon after boot. No Offline of its own: the socket dies and the
        // broker publishes the will; it boots again with the crash as its restart reason.
        if (!s.connected) break;
        log::info("sim: {} crashes (boot loop)", s.device->topic());
        ++stats.restarts;
        if (s.fd >= 0) ::shutdown(s.fd, SHUT_RDWR);
        detach(s);
        s.connected = false;
        ++s.generation;
        s.crash_boot = true;
        timers.push({now_ms() + restart_delay(s), s.index, TimerKind::Boot, s.generation});
        return;
      case TimerKind::Idle:
        if (!s.restart_when_idle) break;
        if (now_ms() - s.last_command_ms < kIdleRestartMs) {  // commands still coming: the backlog is not drained
          timers.push({s.last_command_ms + kIdleRestartMs, s.index, TimerKind::Idle, s.generation});
          break;
        }
        s.restart_when_idle = false;
        if (s.fd >= 0) restart(s);
        return;
      case TimerKind::State: {
        if (!s.connected) break;
        auto o = s.device->state(now_ms());
        publish(s, o.topic, o.payload, false);
        int period = s.device->spec().settings.tele_period;
        if (period > 0)
          timers.push({now_ms() + std::max<std::int64_t>(10, static_cast<std::int64_t>(period * 1000 * opt.tele_scale)),
                       s.index, TimerKind::State, s.generation});
        break;
      }
    }
    watch(s);
  }

  void service(Slot& s, std::uint32_t events) {
    if (s.fd < 0) return;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
      int rc = mosquitto_loop_read(s.mosq, 1);
      if (rc != MOSQ_ERR_SUCCESS) {
        lost(s);
        return;
      }
    }
    if (s.fd >= 0 && ((events & EPOLLOUT) || mosquitto_want_write(s.mosq))) {
      int rc = mosquitto_loop_write(s.mosq, 1);
      if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
        lost(s);
        return;
      }
    }
    if (s.restart_pending && s.fd >= 0) {
      s.restart_pending = false;
      restart(s);
      return;
    }
    watch(s);
  }

  void write_ready() {
    ready_written = true;
    log::info("sim: all {} devices connected", slots.size());
    if (opt.ready_file.empty()) return;
    std::ofstream(opt.ready_file) << slots.size() << "\n";
  }

  // Bench: every device publishes STATE as fast as its socket takes it.
  bool flood_step() {
    bool more = false;
    auto now = now_ms();
    for (auto& s : slots) {
      if (s.flood_left == 0 || !s.connected) continue;
      more = true;
      if (mosquitto_want_write(s.mosq)) continue;  // socket full: wait for EPOLLOUT
      auto o = s.device->state(now);
      publish(s, o.topic, o.payload, false);
      --s.flood_left;
      watch(s);
    }
    return more;
  }

  int run(const std::atomic<bool>& stop) {
    std::vector<epoll_event> events(1024);
    std::int64_t last_misc = now_ms();
    bool flooding = false;
    bool flood_done = false;
    while (!stop.load(std::memory_order_relaxed)) {
      auto now = now_ms();
      while (!timers.empty() && timers.top().at <= now) {
        Timer t = timers.top();
        timers.pop();
        fire(t);
      }
      if (!ready_written && connected_once == slots.size()) write_ready();
      if (ready_written && opt.flood_per_device > 0 && !flood_done && !flooding &&
          (!opt.flood_trigger || opt.flood_trigger->load())) {
        for (auto& s : slots) s.flood_left = opt.flood_per_device;
        flooding = true;
        flood_started = now_ms();
        log::info("sim: flood of {} STATE per device started", opt.flood_per_device);
      }
      if (flooding && !flood_step()) {
        flooding = false;
        flood_done = true;
        stats.flood_ms = now_ms() - flood_started;
        log::info("sim: flood sent in {} ms", stats.flood_ms);
        if (opt.exit_after_flood) {
          // Let the last packets leave before the process (and every session) ends.
          for (int i = 0; i < 50; ++i) {
            int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()), 20);
            for (int k = 0; k < n; ++k)
              if (events[k].data.u32 < kWebTag) service(slots[events[k].data.u32], events[k].events);
          }
          return 0;
        }
      }
      int timeout = flooding ? 0 : 100;
      if (!flooding && !timers.empty()) timeout = static_cast<int>(std::clamp<std::int64_t>(timers.top().at - now_ms(), 0, 100));
      int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()), timeout);
      for (int k = 0; k < n; ++k) {
        if (events[k].data.u32 == kFetchTag) fetched();
        else if (events[k].data.u32 == kWebTag) web_requests();
        else service(slots[events[k].data.u32], events[k].events);
      }
      if (now_ms() - last_misc >= 1000) {
        last_misc = now_ms();
        for (auto& s : slots) {
          if (s.fd < 0) continue;
          // Keepalive pings and retries of QoS 1 LWT publishes.
          if (mosquitto_loop_misc(s.mosq) != MOSQ_ERR_SUCCESS && s.connected) {
            lost(s);
            continue;
          }
          watch(s);
        }
      }
    }
    return 0;
  }
};

SimRunner::SimRunner(std::vector<DeviceSpec> devices, RunnerOptions options)
    : impl_(std::make_unique<Impl>(std::move(devices), std::move(options))) {}
SimRunner::~SimRunner() = default;
int SimRunner::run(const std::atomic<bool>& stop) { return impl_->run(stop); }
const RunnerStats& SimRunner::stats() const { return impl_->stats; }

}  // namespace fleet::sim
