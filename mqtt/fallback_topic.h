#pragma once
// A device's FallbackTopic: "cmnd/<MqttClient>_fb/" whatever its FullTopic and prefixes. MqttClient is
// unique per device (default DVES_ and the MAC's last three bytes), so a command there reaches one
// device even when two share a Topic, and Tasmota answers it on "stat/<MqttClient>_fb/…" (GetTopic_P
// while fallback_topic_flag is set; the literal cmnd/stat/tele, not the configured prefixes).
#include <optional>
#include <string>
#include <string_view>

#include "mqtt/topic_scheme.h"

namespace fleet::mqtt {

// "DVES_ABCDEF" -> "DVES_ABCDEF_fb": the topic part of the device's fallback topics.
std::string fallback_of(std::string_view mqtt_client);
// Tasmota's default MqttClient for a MAC ("AA:BB:CC:DD:EE:FF" -> "DVES_DDEEFF"): what a device
// answers to after Reset 6 has put its MqttClient back.
std::string default_mqtt_client(std::string_view mac);

std::string fallback_topic(Prefix prefix, std::string_view fallback, std::string_view suffix);
// "stat/DVES_ABCDEF_fb/RESULT" -> {Stat, "DVES_ABCDEF_fb", "RESULT"}; nullopt for any other topic.
std::optional<TopicParts> parse_fallback(std::string_view topic);
// Subscription filter for every device's fallback replies.
inline constexpr const char* kFallbackReplyFilter = "stat/+/+";

}  // namespace fleet::mqtt
