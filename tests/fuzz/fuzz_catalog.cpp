// The catalog file (planner/catalog.h): `--catalog FILE` adds releases, checkpoints, builds and aliases
// to the built-in one. Parsed alone and merged into the built-in catalog, then used the way the planner
// uses it for a few devices. The one error a bad file may raise is CatalogError, with its reason (the
// command line prints it): anything else escaping is a bug. Aborts when a plan is not a climb: every hop
// goes to a newer version than the one before, from the device's own.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "planner/catalog.h"
#include "planner/upgrade_plan.h"

using namespace fleet::planner;

namespace {

void plan_some(const Catalog& catalog) {
  Planner planner(catalog);
  const DeviceState devices[] = {
      {"old", {5, 14, 0, 0}, "", Chip::ESP8266, 380, 620, 1024},
      {"mid", {8, 5, 1, 0}, "tasmota", Chip::ESP8266, {}, {}, {}},
      {"c3", {12, 5, 0, 0}, "tasmota32c3", Chip::ESP32C3, 900, 1400, 2880},
  };
  for (const auto& d : devices) {
    for (const auto& request : {PlanRequest{}, PlanRequest{Version{9, 1, 0, 0}, "tasmota-lite"}}) {
      auto plan = planner.plan(d, request);
      if (!plan.ok()) continue;
      Version at = d.version;
      for (const auto& hop : plan.hops) {
        if (!(at < hop.version)) std::abort();
        at = hop.version;
      }
    }
  }
  (void)catalog.image_url(
      catalog.image_path(catalog.latest(), catalog.era_image("tasmota-sensors", {6, 7, 1, 0}) + ".bin", false));
  for (Chip chip : {Chip::ESP8266, Chip::ESP32, Chip::ESP32C3}) (void)catalog.build_exists(chip, catalog.default_build(chip));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    Catalog local = Catalog::parse(text);
    Catalog merged = Catalog::builtin();
    merged.merge(local);
    plan_some(merged);
    if (!local.releases().empty()) plan_some(local);
  } catch (const CatalogError&) {
  }
  return 0;
}
