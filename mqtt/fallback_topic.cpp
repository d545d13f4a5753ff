#include "mqtt/fallback_topic.h"

#include <cctype>

namespace fleet::mqtt {

std::string fallback_of(std::string_view mqtt_client) { return std::string(mqtt_client) + "_fb"; }

std::string default_mqtt_client(std::string_view mac) {
  std::string hex;
  for (char c : mac)
    if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return "DVES_" + (hex.size() >= 6 ? hex.substr(hex.size() - 6) : hex);
}

std::string fallback_topic(Prefix prefix, std::string_view fallback, std::string_view suffix) {
  static const char* const names[] = {"cmnd", "stat", "tele"};
  return std::string(names[static_cast<int>(prefix)]) + "/" + std::string(fallback) + "/" + std::string(suffix);
}

std::optional<TopicParts> parse_fallback(std::string_view topic) {
  Prefix prefix;
  if (topic.starts_with("cmnd/")) prefix = Prefix::Command;
  else if (topic.starts_with("stat/")) prefix = Prefix::Stat;
  else if (topic.starts_with("tele/")) prefix = Prefix::Tele;
  else return std::nullopt;
  auto rest = topic.substr(5);
  auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= rest.size()) return std::nullopt;
  auto device = rest.substr(0, slash);
  auto suffix = rest.substr(slash + 1);
  if (!device.ends_with("_fb") || device.size() <= 3 || suffix.find('/') != std::string_view::npos) return std::nullopt;
  return TopicParts{prefix, std::string(device), std::string(suffix)};
}

}  // namespace fleet::mqtt
