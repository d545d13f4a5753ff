#pragma once
// tasmota-fleet forget DEVICE: a retired device out of the inventory (and its Home Assistant entity).
// Through the daemon when one runs (it holds the inventory); else straight in the database.
#include <string>

#include "mqtt/broker_config.h"

namespace fleet::cli {

// 0 forgotten; 1 refused with the reason (online, a job holds it).
int forget_device(const mqtt::BrokerConfig& broker, const std::string& api_base, const std::string& db, const std::string& name);

}  // namespace fleet::cli
