#include "mqtt/topic_scheme.h"

#include <stdexcept>

namespace fleet::mqtt {
namespace {

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    auto slash = s.find('/', start);
    out.push_back(s.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

bool has_wildcard(std::string_view s) { return s.find_first_of("+#") != std::string_view::npos; }

}  // namespace

TopicScheme::TopicScheme(std::string full_topic, std::string cmnd, std::string stat, std::string tele)
    : full_topic_(std::move(full_topic)), prefixes_{std::move(cmnd), std::move(stat), std::move(tele)} {
  for (const auto& p : prefixes_) {
    if (p.empty() || has_wildcard(p) || p.find('/') != std::string::npos)
      throw std::invalid_argument("prefix '" + p + "' must be one non-empty topic level without wildcards");
  }
  if (has_wildcard(full_topic_)) throw std::invalid_argument("FullTopic must not contain MQTT wildcards");
  std::string_view pattern = full_topic_;
  if (pattern.ends_with('/')) pattern.remove_suffix(1);  // Tasmota adds the trailing slash itself
  bool have_prefix = false, have_device = false;
  for (auto seg : split(pattern)) {
    if (seg == "%prefix%") {
      if (have_prefix) throw std::invalid_argument("FullTopic has %prefix% twice");
      segments_.push_back({Segment::PrefixToken, {}});
      have_prefix = true;
    } else if (seg == "%topic%" || seg == "%hostname%" || seg == "%id%") {
      if (have_device) throw std::invalid_argument("FullTopic has more than one device token");
      segments_.push_back({Segment::DeviceToken, {}});
      have_device = true;
    } else if (seg.empty() || seg.find('%') != std::string_view::npos) {
      throw std::invalid_argument("FullTopic segment '" + std::string(seg) + "' is not supported");
    } else {
      segments_.push_back({Segment::Literal, std::string(seg)});
    }
  }
  if (!have_prefix || !have_device)
    throw std::invalid_argument("FullTopic '" + full_topic_ + "' needs %prefix% and %topic% (or %hostname%/%id%)");
}

const std::string& TopicScheme::prefix_name(Prefix p) const { return prefixes_[static_cast<int>(p)]; }

std::optional<TopicParts> TopicScheme::parse(std::string_view topic) const {
  auto levels = split(topic);
  if (levels.size() != segments_.size() + 1) return std::nullopt;
  TopicParts parts{Prefix::Tele, {}, std::string(levels.back())};
  if (parts.suffix.empty()) return std::nullopt;
  for (size_t i = 0; i < segments_.size(); ++i) {
    const auto& seg = segments_[i];
    auto level = levels[i];
    switch (seg.kind) {
      case Segment::Literal:
        if (level != seg.literal) return std::nullopt;
        break;
      case Segment::PrefixToken: {
        bool found = false;
        for (int p = 0; p < 3; ++p) {
          if (level == prefixes_[p]) {
            parts.prefix = static_cast<Prefix>(p);
            found = true;
            break;
          }
        }
        if (!found) return std::nullopt;
        break;
      }
      case Segment::DeviceToken:
        if (level.empty()) return std::nullopt;
        parts.device_topic = std::string(level);
        break;
    }
  }
  return parts;
}

std::string TopicScheme::expand(std::string_view prefix_text, std::string_view device) const {
  std::string out;
  for (const auto& seg : segments_) {
    switch (seg.kind) {
      case Segment::Literal: out += seg.literal; break;
      case Segment::PrefixToken: out += prefix_text; break;
      case Segment::DeviceToken: out += device; break;
    }
    out += '/';
  }
  return out;
}

std::string TopicScheme::topic(Prefix prefix, std::string_view device_topic, std::string_view suffix) const {
  return expand(prefix_name(prefix), device_topic) + std::string(suffix);
}

std::vector<std::string> TopicScheme::inventory_filters() const {
  const std::string& tele = prefix_name(Prefix::Tele);
  std::vector<std::string> filters;
  for (const char* s : {"LWT", "STATE", "INFO1", "INFO2", "INFO3"}) filters.push_back(expand(tele, "+") + s);
  // Every reply: RESULT, STATUS0…STATUS11, and per-command topics when SetOption4 is on.
  filters.push_back(expand(prefix_name(Prefix::Stat), "+") + "+");
  filters.push_back(kDiscoveryFilter);
  return filters;
}

std::optional<std::string> discovery_mac(std::string_view topic) {
  constexpr std::string_view head = "tasmota/discovery/";
  constexpr std::string_view tail = "/config";
  if (!topic.starts_with(head) || !topic.ends_with(tail)) return std::nullopt;
  auto mac = topic.substr(head.size(), topic.size() - head.size() - tail.size());
  if (mac.empty() || mac.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(mac);
}

}  // namespace fleet::mqtt
