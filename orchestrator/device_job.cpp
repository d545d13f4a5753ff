#include "orchestrator/device_job.h"

#include "inventory/inventory.h"
#include "mqtt/fallback_topic.h"

namespace fleet::orchestrator {

std::vector<std::string> fallbacks_for(const inventory::DeviceRecord& device) {
  auto own = inventory::fallback_topic_of(device);
  if (!own) return {};
  std::vector<std::string> out{*own};
  auto after_reset = mqtt::fallback_of(mqtt::default_mqtt_client(device.mac));
  if (after_reset != *own) out.push_back(after_reset);
  return out;
}

}  // namespace fleet::orchestrator
