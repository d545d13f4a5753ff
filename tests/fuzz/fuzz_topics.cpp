// Topics (mqtt/topic_scheme.h, mqtt/fallback_topic.h). Input: a topic, parsed with the default scheme
// and as a fallback or discovery topic; with a second line, the first is a FullTopic (as --full-topic
// takes it) and the second a topic parsed with it. Aborts when a topic that parses does not come back
// the same from its parts: the daemon answers devices on the topics it builds from them.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "mqtt/fallback_topic.h"
#include "mqtt/topic_scheme.h"

using namespace fleet::mqtt;

namespace {

void round_trip(const TopicScheme& scheme, std::string_view topic) {
  auto parts = scheme.parse(topic);
  if (!parts) return;
  if (parts->device_topic.empty() || parts->suffix.empty()) std::abort();
  if (scheme.topic(parts->prefix, parts->device_topic, parts->suffix) != topic) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  static const TopicScheme defaults;
  round_trip(defaults, input);
  if (auto fb = parse_fallback(input)) {
    if (fallback_topic(fb->prefix, fb->device_topic, fb->suffix) != input) std::abort();
  }
  if (auto mac = discovery_mac(input)) {
    if (mac->empty() || mac->find('/') != std::string::npos) std::abort();
  }
  (void)default_mqtt_client(input);

  auto nl = input.find('\n');
  if (nl == std::string_view::npos) return 0;
  try {
    TopicScheme custom{std::string(input.substr(0, nl))};
    round_trip(custom, input.substr(nl + 1));
    for (const auto& filter : custom.inventory_filters()) (void)custom.parse(filter);
  } catch (const std::invalid_argument&) {
    // A FullTopic the scheme refuses, with its reason: what --full-topic answers.
  }
  return 0;
}
