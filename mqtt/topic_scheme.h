#pragma once
// Tasmota's topic layout: FullTopic pattern (default "%prefix%/%topic%/") plus the three prefixes
// (default cmnd/stat/tele), both user-configurable on the devices. Tasmota appends the command or
// telemetry name to the expanded FullTopic: "stat/kitchen/RESULT", "tasmota/kitchen/tele/LWT".
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::mqtt {

enum class Prefix { Command, Stat, Tele };

struct TopicParts {
  Prefix prefix;
  std::string device_topic;  // %topic% (or %hostname% / %id% when the pattern uses those instead)
  std::string suffix;        // "LWT", "STATE", "RESULT", "STATUS0", …
};

class TopicScheme {
 public:
  // Throws std::invalid_argument with a readable reason for a pattern Tasmota would not accept here:
  // it must contain %prefix% and one device token (%topic%, %hostname% or %id%), with no MQTT wildcards.
  explicit TopicScheme(std::string full_topic = "%prefix%/%topic%/", std::string cmnd = "cmnd",
                       std::string stat = "stat", std::string tele = "tele");

  std::optional<TopicParts> parse(std::string_view topic) const;
  std::string topic(Prefix prefix, std::string_view device_topic, std::string_view suffix) const;

  // Subscription filters for what identifies a device and its state.
  std::vector<std::string> inventory_filters() const;

  const std::string& full_topic() const { return full_topic_; }
  const std::string& prefix_name(Prefix p) const;

 private:
  struct Segment {
    enum Kind { Literal, PrefixToken, DeviceToken } kind;
    std::string literal;
  };
  std::string expand(std::string_view prefix_text, std::string_view device) const;

  std::string full_topic_;
  std::string prefixes_[3];
  std::vector<Segment> segments_;
};

// Tasmota's own Home Assistant discovery: "tasmota/discovery/<MAC>/config"; returns the MAC part.
std::optional<std::string> discovery_mac(std::string_view topic);
inline constexpr const char* kDiscoveryFilter = "tasmota/discovery/+/config";

}  // namespace fleet::mqtt
