#pragma once
// The one command API for every client (the command line, Home Assistant, openHAB, Node-RED), after
// mosquitto's $CONTROL/…/v1 topics: JSON requests on <base>/v1/control, each answered on its reply_to
// topic (default <base>/v1/replies) with {"request_id", "ok", "result" | "error"}. A malformed or hostile
// request is answered with an error and changes nothing. Who may publish on the control topic is the
// broker's ACL (docs/rollouts.md).
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/transport.h"
#include "orchestrator/rollout_executor.h"

namespace fleet::orchestrator {

struct ControlReply {
  std::string topic;
  nlohmann::json body;
};

// The one device a request's "device" names (MAC, topic or hostname), or why not.
Result<inventory::DeviceRecord> requested_device(const nlohmann::json& request, const std::vector<inventory::DeviceRecord>& inventory);

class ControlApi {
 public:
  ControlApi(RolloutExecutor& rollouts, RolloutStore& store, std::string base);

  std::string request_topic() const { return base_ + "/v1/control"; }
  // The request's answer, or nothing when the message was not on the control topic. Never throws.
  std::optional<ControlReply> handle(std::string_view topic, std::string_view payload);
  // The same, published on the transport.
  bool on_message(core::Transport& transport, std::string_view topic, std::string_view payload);

  // One request as parsed JSON ({"command": "rollout.start", …}), answered directly: what the command
  // line runs in-process when no daemon is there, so both go through the same validation and dispatch.
  Result<nlohmann::json> run(const nlohmann::json& request);

  // device.backup, where the composition offers it: takes the request, answers with its result.
  std::function<Result<nlohmann::json>(const nlohmann::json& request)> backup;
  // device.forget: a retired (offline) device taken out of the inventory, its Home Assistant entity with it.
  std::function<Result<nlohmann::json>(const nlohmann::json& request)> forget;

  static constexpr std::size_t kMaxRequestBytes = 64 * 1024;

 private:
  Result<nlohmann::json> dispatch(const std::string& command, const nlohmann::json& request);
  RolloutExecutor& rollouts_;
  RolloutStore& store_;
  std::string base_;
};

}  // namespace fleet::orchestrator
