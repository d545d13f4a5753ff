#include "orchestrator/local_run.h"

#include <unistd.h>

#include "mqtt/event_queue.h"
#include "orchestrator/backup_device_job.h"
#include "mqtt/paho_transport.h"

namespace fleet::orchestrator {

void run_locally(const LocalRunOptions& o, const std::vector<std::shared_ptr<DeviceJob>>& jobs) {
  if (jobs.empty()) return;
  std::vector<std::string> topics;
  for (auto& j : jobs)
    for (auto& t : j->topics()) topics.push_back(t);
  auto broker = o.broker;
  broker.client_id += "-cli-" + std::to_string(::getpid());  // never the daemon's id: that would disconnect it
  mqtt::EventQueue events;
  mqtt::PahoTransport transport(broker, JobRunner::filters_for(o.scheme, topics), events);
  core::SystemClock clock;
  JobRunner runner(transport, clock, {o.scheme, static_cast<std::size_t>(std::max(1, o.parallel))});
  for (auto& j : jobs) runner.add(j);
  transport.start();
  const std::int64_t started = clock.now_ms();
  bool ever_subscribed = false;
  while (!runner.idle()) {
    auto now = clock.now_ms();
    if (!ever_subscribed && now - started > o.connect_timeout_ms) {
      runner.give_up_all("the broker could not be reached: " + broker.describe());
      break;
    }
    if (now - started > o.overall_timeout_ms) {
      runner.give_up_all(ever_subscribed ? "the run took longer than its time limit"
                                         : "the broker could not be reached: " + broker.describe());
      break;
    }
    transport.maintain(now);
    for (auto& e : events.pop_all(std::chrono::milliseconds(50))) {
      if (e.kind == mqtt::Event::Subscribed) {
        ever_subscribed = true;
        runner.set_online(true);
      }
      if (e.kind == mqtt::Event::Connected || e.kind == mqtt::Event::ConnectionLost) runner.set_online(false);
      if (e.kind == mqtt::Event::Message) runner.on_message(e.topic, e.payload);
    }
    runner.tick();
    runner.take_done();
  }
  transport.stop();
}

Result<backup::BackupRecord> take_settings_now(const LocalRunOptions& options, JobStore& jobs, const inventory::DeviceRecord& d,
                                               const DeviceAccess& access, backup::BackupSettings settings) {
  if (auto refusal = backup_refusal(jobs, d, core::SystemClock().now_ms())) return fail(*refusal);
  settings.device_mqtt_password = access.mqtt_password;
  auto task = std::make_shared<BackupDeviceJob>(d, access, settings);
  run_locally(options, {task});
  const auto& job = task->job();
  if (job.result()) return *job.result();
  return fail(!task->gave_up().empty() ? task->gave_up() : job.problems().empty() ? "no reply" : job.problems().back());
}

}  // namespace fleet::orchestrator
