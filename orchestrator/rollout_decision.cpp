#include "orchestrator/rollout_decision.h"

#include <fmt/format.h>

namespace fleet::orchestrator {

GroupCounts counts_of(const std::vector<DeviceView>& devices, int group) {
  GroupCounts c;
  for (const auto& d : devices) {
    if (d.group != group) continue;
    ++c.total;
    if (d.status == "scheduled")
      ++c.scheduled;
    else if (d.status == "running")
      ++c.running;
    else if (d.status == "finished")
      ++c.finished;
    else if (d.status == "error")
      ++c.error;
    else if (d.status == "skipped")
      ++c.skipped;
    else if (d.status == "cancelled")
      ++c.cancelled;
  }
  return c;
}

namespace {

// The canary is there to stop a bad upgrade before it reaches the fleet: any failure in it pauses,
// whatever the error condition of the waves says.
bool crossed(const RolloutView& v, int group, const GroupCounts& c) {
  bool canary_group = group == 0 && v.spec.canary.value > 0;
  if (canary_group && c.error > 0) return true;
  return error_condition_crossed(v.spec, c);
}

}  // namespace

std::vector<RolloutEffect> decide(const RolloutView& v) {
  std::vector<RolloutEffect> out;
  if (v.status == "finished") return out;
  if (v.status == "stopped") {
    bool any_running = false;
    for (const auto& d : v.devices) any_running = any_running || d.status == "running";
    if (!any_running) out.push_back(effect::Stopped{});
    return out;
  }
  if (v.status == "paused") return out;  // running jobs go on to their safe point; nothing new starts
  if (v.status == "ready") out.push_back(effect::Run{});

  int group = v.current_group;
  auto c = counts_of(v.devices, group);
  auto judged = c;
  judged.error -= std::min<std::size_t>(judged.error, static_cast<std::size_t>(std::max(0, v.acknowledged_errors)));
  if (crossed(v, group, judged)) {
    out.push_back(effect::Pause{fmt::format("group {} crossed its error condition: {} of {} device{} failed", group + 1, c.error,
                                            c.total, c.total == 1 ? "" : "s")});
    return out;
  }
  // Advance through every group whose success condition is met (an empty or all-skipped group passes).
  while (success_condition_met(v.spec, c) && c.running == 0 && group + 1 < v.groups) {
    ++group;
    out.push_back(effect::Advance{group});
    c = counts_of(v.devices, group);
  }
  bool all_ended = true;
  for (int g = 0; g < v.groups; ++g) {
    auto gc = counts_of(v.devices, g);
    all_ended = all_ended && gc.ended() == gc.total;
  }
  if (all_ended) {
    out.push_back(effect::Finish{});
    return out;
  }

  // Starts, within the limits.
  std::size_t slots = v.running_fleetwide < static_cast<std::size_t>(v.spec.max_parallel)
                          ? static_cast<std::size_t>(v.spec.max_parallel) - v.running_fleetwide
                          : 0;
  if (v.spec.max_per_minute > 0) {
    auto rate = static_cast<std::size_t>(v.spec.max_per_minute);
    slots = std::min(slots, rate > v.starts_last_minute ? rate - v.starts_last_minute : 0);
  }
  bool in_window = !v.spec.window || v.spec.window->contains(v.local_minute);
  for (const auto& d : v.devices) {
    if (d.group != group || d.status != "scheduled") continue;
    if (!d.not_ready.empty()) {
      out.push_back(effect::Fail{d.mac, d.not_ready});
      continue;
    }
    std::string why;
    if (!in_window)
      why = "outside the maintenance window " + v.spec.window->str();
    else if (!d.online)
      why = "offline";
    else if (v.spec.skip_powered && d.powered_on)
      why = "its relay is on (--skip-powered)";
    else if (d.busy)
      why = "another job holds the device";
    if (!why.empty()) {
      // Outside the window nobody's turn has come: no clock runs for it. A device that waited for its
      // relay to go off through the window has had its turn.
      if (!in_window) {
        if (v.spec.skip_powered && d.powered_on && d.waiting_since_ms != 0)
          out.push_back(effect::Skip{d.mac, "its relay stayed on until the maintenance window ended (--skip-powered)"});
        continue;
      }
      if (d.waiting_since_ms == 0) {
        out.push_back(effect::Wait{d.mac, why});
      } else if (v.now_ms - d.waiting_since_ms > v.spec.offline_timeout_s * 1000) {
        out.push_back(effect::Skip{d.mac, fmt::format("{} for more than {} s at its turn", why, v.spec.offline_timeout_s)});
      }
      continue;
    }
    if (slots == 0) continue;
    --slots;
    out.push_back(effect::Start{d.mac});
  }
  return out;
}

}  // namespace fleet::orchestrator
