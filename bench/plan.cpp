// bench/plan — issue #3's planner target (run on demand, not in CI):
//   plan 100,000 devices of mixed versions, builds and chips to the latest release.
//   Reference: under 0.2 s on this project's 2-core machine.
// Usage: build/bench/bench_plan [devices]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "planner/catalog.h"
#include "planner/upgrade_plan.h"

using namespace fleet::planner;

int main(int argc, char** argv) {
  std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100'000;
  const Catalog& catalog = Catalog::builtin();
  // A fleet as found in the wild: every catalog version, development builds, old builds, ESP32 variants.
  struct Kind {
    const char* version;
    const char* build;
    Chip chip;
  };
  std::vector<Kind> kinds = {{"5.14.0", "", Chip::ESP8266},          {"6.6.0.9", "sonoff", Chip::ESP8266},
                             {"6.7.1", "sonoff-sensors", Chip::ESP8266}, {"7.2.0", "tasmota", Chip::ESP8266},
                             {"8.3.1", "lite", Chip::ESP8266},         {"8.5.1", "tasmota", Chip::ESP8266},
                             {"9.1.0.2", "tasmota", Chip::ESP8266},    {"9.5.0", "minimal", Chip::ESP8266},
                             {"11.1.0", "tasmota32", Chip::ESP32},     {"12.5.0", "sensors", Chip::ESP8266},
                             {"13.4.0", "tasmota32c3", Chip::ESP32C3}, {"14.2.0", "tasmota32", Chip::ESP32},
                             {"15.0.1", "tasmota", Chip::ESP8266},     {"15.0.1", "ir", Chip::ESP8266}};
  // Plus one kind per catalog release (version drawn at random below).
  for (std::size_t i = 0; i < catalog.releases().size(); ++i) kinds.push_back({nullptr, "tasmota", Chip::ESP8266});
  std::vector<DeviceState> fleet;
  fleet.reserve(n);
  std::mt19937 rng(42);
  const auto& releases = catalog.releases();
  for (std::size_t i = 0; i < n; ++i) {
    const Kind& k = kinds[rng() % kinds.size()];
    DeviceState d;
    d.name = "dev" + std::to_string(i);
    d.version = k.version ? *Version::parse(k.version) : releases[rng() % releases.size()];
    d.build = k.build;
    d.chip = k.chip;
    d.free_kb = 300 + static_cast<int>(rng() % 400);
    d.program_kb = 500 + static_cast<int>(rng() % 200);
    if (k.chip != Chip::ESP8266) d.program_flash_kb = (rng() % 4) ? 2880 : 1856;
    fleet.push_back(std::move(d));
  }
  Planner planner(catalog);
  PlanRequest to_latest;
  std::size_t planned = 0, refused = 0, hops = 0;
  auto start = std::chrono::steady_clock::now();
  for (const auto& d : fleet) {
    auto p = planner.plan(d, to_latest);
    if (p.ok()) {
      ++planned;
      hops += p.hops.size();
    } else {
      ++refused;
    }
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("bench/plan: %zu devices to %s: %zu planned (%zu hops), %zu refused with a reason\n", n,
              catalog.latest().str().c_str(), planned, hops, refused);
  std::printf("  %.3f s, %.0f devices/s (reference: 100,000 devices in under 0.2 s, issue #3)\n", s, n / s);
  return 0;
}
