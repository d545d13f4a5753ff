#include "cli/device_table.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "inventory/inventory.h"

namespace fleet::cli {
namespace {

// The other online devices on each online device's topic: commands there reach all of them (the daemon
// reports the same as a conflict; device jobs then use each one's fallback topic).
std::map<std::string, std::vector<std::string>> shared_topics(const std::vector<inventory::DeviceRecord>& devices) {
  std::map<std::string, std::vector<std::string>> by_topic, out;
  for (const auto& d : devices)
    if (d.online && d.topic) by_topic[*d.topic].push_back(d.mac);
  for (const auto& d : devices) {
    if (!d.online || !d.topic) continue;
    for (auto& other : by_topic[*d.topic])
      if (other != d.mac) out[d.mac].push_back(other);
  }
  return out;
}

}  // namespace

std::string ago(std::int64_t then_ms, std::int64_t now_ms) {
  if (then_ms <= 0) return "never";
  auto s = std::max<std::int64_t>(0, (now_ms - then_ms) / 1000);
  if (s < 120) return fmt::format("{}s ago", s);
  if (s < 7200) return fmt::format("{}m ago", s / 60);
  if (s < 172800) return fmt::format("{}h ago", s / 3600);
  return fmt::format("{}d ago", s / 86400);
}

std::string render_table(const std::vector<inventory::DeviceRecord>& devices, std::int64_t now_ms) {
  struct Col {
    const char* title;
    std::vector<std::string> cells;
    size_t width;
  };
  auto s = [](const std::optional<std::string>& v) { return v.value_or("-"); };
  auto i = [](const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : std::string("-"); };
  std::vector<Col> cols = {{"MAC", {}, 0},   {"TOPIC", {}, 0}, {"VERSION", {}, 0}, {"BUILD", {}, 0},
                           {"CHIP", {}, 0},  {"FLASH", {}, 0}, {"FREE", {}, 0},    {"STATE", {}, 0},
                           {"IP", {}, 0},    {"HOSTNAME", {}, 0}, {"LAST SEEN", {}, 0}};
  for (const auto& d : devices) {
    std::vector<std::string> row = {d.mac,
                                    s(d.topic),
                                    s(d.version),
                                    s(d.build),
                                    s(d.chip),
                                    d.flash_kb ? i(d.flash_kb) + "K" : "-",
                                    d.free_kb ? i(d.free_kb) + "K" : "-",
                                    d.online ? "online" : "offline",
                                    s(d.ip),
                                    s(d.hostname),
                                    ago(d.last_seen_ms, now_ms)};
    for (size_t c = 0; c < cols.size(); ++c) cols[c].cells.push_back(std::move(row[c]));
  }
  std::string out;
  for (auto& c : cols) {
    c.width = std::string_view(c.title).size();
    for (const auto& cell : c.cells) c.width = std::max(c.width, cell.size());
  }
  auto line = [&](auto cell_of) {
    std::string l;
    for (size_t c = 0; c < cols.size(); ++c) {
      std::string v = cell_of(c);
      l += c + 1 == cols.size() ? v : fmt::format("{:<{}}  ", v, cols[c].width);
    }
    return l + "\n";
  };
  out += line([&](size_t c) { return std::string(cols[c].title); });
  for (size_t r = 0; r < devices.size(); ++r) out += line([&](size_t c) { return cols[c].cells[r]; });
  size_t online = std::count_if(devices.begin(), devices.end(), [](const auto& d) { return d.online; });
  out += fmt::format("{} devices, {} online\n", devices.size(), online);
  std::set<std::string> told;
  auto shared = shared_topics(devices);
  for (const auto& d : devices) {
    auto it = shared.find(d.mac);
    if (it == shared.end() || !told.insert(*d.topic).second) continue;
    out += fmt::format("topic '{}' is used by {} devices ({}{}): commands to it reach all of them; device jobs use each one's fallback topic\n",
                       *d.topic, it->second.size() + 1, d.mac, fmt::format(", {}", fmt::join(it->second, ", ")));
  }
  return out;
}

std::string render_json(const std::vector<inventory::DeviceRecord>& devices) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  auto shared = shared_topics(devices);
  for (const auto& d : devices) {
    nlohmann::ordered_json j;
    j["mac"] = d.mac;
#define FLEET_JSON(kind, name) \
  if (d.name) j[#name] = *d.name; \
  else j[#name] = nullptr;
    FLEET_DEVICE_FIELDS(FLEET_JSON)
#undef FLEET_JSON
    j["online"] = d.online;
    j["first_seen_ms"] = d.first_seen_ms;
    j["last_seen_ms"] = d.last_seen_ms;
    j["status_at_ms"] = d.status_at_ms;
    j["bad_payloads"] = d.bad_payloads;
    auto fb = inventory::fallback_topic_of(d);
    j["fallback_topic"] = fb ? nlohmann::ordered_json("cmnd/" + *fb + "/") : nlohmann::ordered_json(nullptr);
    auto it = shared.find(d.mac);
    j["topic_shared_with"] = it == shared.end() ? nlohmann::ordered_json::array() : nlohmann::ordered_json(it->second);
    arr.push_back(std::move(j));
  }
  return arr.dump(2) + "\n";
}

}  // namespace fleet::cli
