#include "firmware/plan_check.h"

#include <fmt/format.h>

#include <fstream>
#include <iterator>

namespace fleet::firmware {
namespace {

std::string last_segment(const std::string& url) {
  auto slash = url.rfind('/');
  return slash == std::string::npos ? url : url.substr(slash + 1);
}

std::optional<std::vector<std::uint8_t>> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

std::string hop_path(const planner::Catalog& catalog, const planner::UpgradePlan& p, const planner::Hop& h,
                     const std::string& url) {
  return catalog.image_path(h.version, last_segment(url), planner::is_esp32_family(p.chip));
}

std::vector<std::string> check_plan_images(FirmwareStore& store, const planner::Catalog& catalog, const planner::UpgradePlan& p,
                                           const DeviceFit& device_fit, InspectionCache* cache) {
  std::vector<std::string> found;
  bool first = true;
  for (const auto& h : p.hops) {
    std::string path = hop_path(catalog, p, h, h.url);
    auto entry = store.resolve(path);
    if (!entry) {
      found.push_back(
          fmt::format("hop {}: {} is not in the firmware store (tasmota-fleet firmware fetch)", h.version.str(), path));
      first = false;
      continue;
    }
    Inspection info;
    if (auto hit = cache ? cache->find(entry->path) : InspectionCache::iterator{}; cache && hit != cache->end()) {
      info = hit->second;
    } else {
      auto bytes = read_bytes(store.file_of(*entry));
      info = bytes ? inspect(*bytes) : Inspection{std::nullopt, "unreadable"};
      if (cache && bytes) (*cache)[entry->path] = info;
    }
    if (!info.ok()) {
      found.push_back(fmt::format("hop {}: {}: {}", h.version.str(), path, info.error));
      first = false;
      continue;
    }
    bool minimal_ready = !h.minimal_url.empty() && store.resolve(hop_path(catalog, p, h, h.minimal_url)).has_value();
    // Free space is known for the first hop only; later hops are judged on chip and flash.
    DeviceFit fit = device_fit;
    if (!first) fit.free_kb.reset();
    if (auto why = unsuitable(*info.info, fit, minimal_ready))
      found.push_back(fmt::format("hop {}: {}: {}", h.version.str(), path, *why));
    first = false;
  }
  return found;
}

}  // namespace fleet::firmware
