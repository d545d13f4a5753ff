#pragma once
// The rollout spec: what a rollout upgrades (a selection of the inventory), to what, in which groups
// and under which conditions it goes on from one group to the next or pauses. Pure: no I/O, no clock;
// the rollout runner feeds it the inventory, the time of day and the counts of each group.
//
// The words are Eclipse hawkBit's: a rollout is split into groups, the first one a small canary; a
// group's success condition starts the next group, its error condition pauses the rollout.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "inventory/device_record.h"

namespace fleet::orchestrator {

// A count or a share of a whole, as the user types it: "3" or "10%".
struct Amount {
  bool percent = false;
  double value = 0;

  // "0".."1000000", "0%".."100%", up to 3 decimals for shares ("2.5%"); negative, empty, junk, >100% refused.
  static Result<Amount> parse(std::string_view text);
  std::size_t of(std::size_t total) const;  // percent: ceil(total*value/100) but never more than total; count: min(value,total)
  std::string str() const;                  // "10%" / "3"
  friend bool operator==(const Amount&, const Amount&) = default;
};

inline constexpr std::size_t kMaxCount = 1'000'000;  // larger counts are typing errors, not fleets
inline constexpr std::size_t kMaxWaves = 100;

// "10%,50%,100%" or "5,20,100%". Errors start with "waves: ". Shares must not decrease, nor counts
// when all are counts (with both kinds, the order depends on the number of devices).
Result<std::vector<Amount>> parse_waves(std::string_view text);

// A --where filter: "version<9.1", "version>=8.5.1", "build=tasmota", "chip=esp32c3",
// "module=Sonoff Basic", "build!=tasmota-lite".
struct DeviceFilter {
  std::string field;  // version, build, chip, module
  std::string op;     // <, <=, =, !=, >=, >  (only = and != for build/chip/module)
  std::string value;  // as typed, trimmed

  // Unknown field or operator, an unparsable version or an unknown chip are refused.
  static Result<DeviceFilter> parse(std::string_view text);
  // Versions compare as planner::Version, chips as planner::Chip ("esp32c3" is "ESP32-C3"), builds
  // and modules as text in any case, a build with or without "tasmota-" ("lite" is "tasmota-lite").
  // A device whose field is unknown matches neither = nor !=: nothing is known about it.
  bool matches(const inventory::DeviceRecord& d) const;
  std::string str() const;  // "version<9.1"
  friend bool operator==(const DeviceFilter&, const DeviceFilter&) = default;
};

// A daily maintenance window in local time, "01:00-05:00"; may wrap midnight ("22:00-02:00").
// The end is exclusive and may be "24:00"; a window that starts where it ends is refused (empty or
// the whole day: either way not what was meant).
struct TimeWindow {
  int start_minute = 0;  // minutes after local midnight
  int end_minute = 0;

  static Result<TimeWindow> parse(std::string_view text);
  bool contains(int minute_of_day) const;
  std::string str() const;  // "01:00-05:00"
  friend bool operator==(const TimeWindow&, const TimeWindow&) = default;
};

struct RolloutSpec {
  std::string name;                              // optional label
  std::string target = "latest";                 // a version or "latest"
  std::string target_build;                      // empty: keep each device's build
  bool all = false;                              // every device of the inventory
  std::vector<std::string> devices;              // MAC (any case, with or without ':'), topic or hostname
  std::vector<DeviceFilter> where;               // all must match
  Amount canary{false, 1};                       // the first group; 0 = no canary
  std::vector<Amount> waves{Amount{true, 100}};  // cumulative shares of the whole selection
  int max_parallel = 20;                         // device jobs at once, fleet-wide (>= 1)
  double max_per_minute = 0;                     // device job starts per minute; 0 = no limit
  std::optional<Amount> error_threshold;         // per group; crossing it pauses the rollout
  // The error condition is only judged once this many devices of the group were executed (finished or failed).
  std::size_t error_min_executed = 1;
  // The share of a group that must have ended (finished, failed, skipped or cancelled) before the next group starts.
  Amount success_threshold{true, 100};
  std::int64_t offline_timeout_s = 600;          // a device offline at its turn waits this long, then is skipped
  std::int64_t health_window_s = 60;             // health stability window after each hop
  std::int64_t restart_timeout_s = 120;          // how long a restart may take before the device counts as gone
  std::int64_t upgrade_timeout_s = 600;          // from Upgrade 1 to the new image's boot (download, minimal or safeboot stage)
  std::string mode = "clean";                    // clean | in-place
  std::optional<TimeWindow> window;
  bool skip_powered = false;
  std::optional<int> min_rssi;                   // percent 0..100 (Tasmota's Wifi RSSI)
  // Device access options (passwords, web port): opaque here, kept as given (an object or null).
  nlohmann::json access;

  nlohmann::json to_json() const;  // every field; Amounts as their str() text, filters and window as text
  // Strict: unknown keys are refused and every bad field is named ("max_parallel: must be at least 1",
  // "waves[1]: …"; several errors are joined by "; "). Accepts what to_json writes and what a control-API
  // client sends: "devices" may be the string "all" (same as all=true) or an array of names; amounts
  // may be JSON numbers (counts) or strings ("10%"); "waves" also one string ("10%,100%"); "where" an
  // array of strings. Missing keys keep their defaults, but a selection must be given (all, devices or
  // where), and all with devices together is refused. Limits against typing errors and hostile input:
  // max_parallel <= 10000, max_per_minute <= 60000, offline_timeout_s <= a week, health_window_s <= a day,
  // restart_timeout_s 1..a day, upgrade_timeout_s 1..a day,
  // access nested at most 8 levels (a json copy recurses).
  static Result<RolloutSpec> from_json(const nlohmann::json& j);
  friend bool operator==(const RolloutSpec&, const RolloutSpec&) = default;
};

// Which inventory devices a spec selects, in a stable order: the order of `devices` as named (a device
// named twice counts once), else by topic then MAC. Filters apply after names/all; only `where` given
// starts from the whole inventory. Errors: a name that matches no device ("unknown device 'porch'"), a
// name that matches two devices ("'plug' is ambiguous: 2 devices (AA:…, BB:…)"); all of them, joined by "; ".
// A MAC matches in any case, with ':', '-' or nothing between the bytes; a topic exactly; a hostname in any case.
Result<std::vector<inventory::DeviceRecord>> select_devices(const std::vector<inventory::DeviceRecord>& inventory,
                                                            const RolloutSpec& spec);

// Splits n devices (kept in order) into group sizes: group 0 is the canary (canary.of(n); no canary
// group when that is 0), then one group per wave, each wave's Amount being cumulative over all n devices
// (10%,50%,100% of 20 → canary 1, then up to 2, up to 10, up to 20: 1,1,8,10); the last wave always
// takes the rest (no waves: one group of the rest); empty groups are dropped. Sizes sum to n.
std::vector<std::size_t> group_sizes(std::size_t n, const Amount& canary, const std::vector<Amount>& waves);

// Counts of one group's devices by status.
struct GroupCounts {
  std::size_t total = 0, scheduled = 0, running = 0, finished = 0, error = 0, skipped = 0, cancelled = 0;
  std::size_t ended() const { return finished + error + skipped + cancelled; }
  std::size_t executed() const { return finished + error; }
};

// hawkBit's threshold conditions (hawkbit-repository-jpa, rollout/condition/ThresholdRolloutGroupErrorCondition.java
// and ThresholdRolloutGroupSuccessCondition.java): the error condition is crossed when errors / the group's
// total is strictly more than the threshold (a count: errors > count), never for an empty group; we judge it
// only once error_min_executed devices of the group were executed. No error_threshold: never crossed.
bool error_condition_crossed(const RolloutSpec& spec, const GroupCounts& counts);
// Met when ended() / total reaches the threshold (>=, as hawkBit's); always for an empty group. hawkBit counts
// only finished actions here; we count every ended device, since a failed one is judged by the error condition.
bool success_condition_met(const RolloutSpec& spec, const GroupCounts& counts);

}  // namespace fleet::orchestrator
