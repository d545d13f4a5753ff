#pragma once
// What a rollout does next, decided from what is known now: pure, so every rule is tested without a
// broker or a clock (hawkBit's rollout executor in one function: it checks the running group's error
// condition, then its success condition, then starts what the limits allow). The executor carries the
// effects out against the stores and the job runner.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "orchestrator/rollout_spec.h"

namespace fleet::orchestrator {

// One device of the rollout as the decision sees it.
struct DeviceView {
  std::string mac;
  int group = 0;
  std::string status;                 // scheduled, running, finished, error, skipped, cancelled
  std::int64_t waiting_since_ms = 0;  // its turn came and it could not start (offline, powered): since when
  bool online = false;
  bool powered_on = false;  // a relay reports POWER ON
  bool busy = false;        // another job (of another rollout) holds the device
  std::string not_ready;    // preflight said no, with the reason: failed at once
};

struct RolloutView {
  RolloutSpec spec;
  std::string status;  // ready, running, paused, finished, stopped
  int current_group = 0;
  int acknowledged_errors = 0;  // of the current group: a resume went past them
  int groups = 0;
  std::vector<DeviceView> devices;
  std::size_t running_fleetwide = 0;   // device jobs in flight, every rollout
  std::size_t starts_last_minute = 0;  // device jobs started in the last 60 s, every rollout
  std::int64_t now_ms = 0;
  int local_minute = 0;  // minutes after local midnight, for the maintenance window
};

namespace effect {
struct Run {};  // ready -> running
struct Start {
  std::string mac;
};  // start the device's job
struct Wait {
  std::string mac;
  std::string why;
};  // its turn came and it cannot start yet
struct Skip {
  std::string mac;
  std::string reason;
};
struct Fail {
  std::string mac;
  std::string reason;
};  // preflight refused it: a failure, retried by `retry`
struct Advance {
  int group;
};  // the next group's turn
struct Pause {
  std::string reason;
};                  // the error condition was crossed
struct Finish {};   // every group ended
struct Stopped {};  // aborted and nothing runs any more
}  // namespace effect

using RolloutEffect = std::variant<effect::Run, effect::Start, effect::Wait, effect::Skip, effect::Fail, effect::Advance,
                                   effect::Pause, effect::Finish, effect::Stopped>;

GroupCounts counts_of(const std::vector<DeviceView>& devices, int group);
std::vector<RolloutEffect> decide(const RolloutView& view);

}  // namespace fleet::orchestrator
