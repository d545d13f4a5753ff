#include "orchestrator/control_api.h"

#include <fmt/format.h>

#include "core/json_depth.h"
#include "core/log.h"
#include "core/utf8_prefix.h"

namespace fleet::orchestrator {
namespace {

using nlohmann::json;

const char* const kCommands =
    "rollout.start, rollout.pause, rollout.resume, rollout.abort, rollout.retry, rollout.list, rollout.show, "
    "device.upgrade, device.backup, device.forget";

// The request's own keys; everything else of rollout.start and device.upgrade is the rollout's spec.
json spec_part(const json& request) {
  json spec = request;
  for (const char* k : {"command", "request_id", "reply_to", "dry_run"}) spec.erase(k);
  // The command line's words are accepted too: "to" and "to_build".
  for (auto [from, to] : {std::pair{"to", "target"}, std::pair{"to_build", "target_build"}})
    if (spec.contains(from) && !spec.contains(to)) {
      spec[to] = spec[from];
      spec.erase(from);
    }
  return spec;
}

Result<std::int64_t> id_of(const json& request) {
  if (!request.contains("id")) return fail("id: missing (the rollout's id)");
  const auto& v = request["id"];
  if (v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() > 0)) return v.get<std::int64_t>();
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (!s.empty() && s.size() < 19 && s.find_first_not_of("0123456789") == std::string::npos) return std::stoll(s);
  }
  return fail("id: must be a positive whole number");
}

}  // namespace

Result<inventory::DeviceRecord> requested_device(const json& request, const std::vector<inventory::DeviceRecord>& inventory) {
  if (!request.contains("device") || !request["device"].is_string()) return fail("device: name the device (MAC, topic or hostname)");
  RolloutSpec one;
  one.devices = {request["device"].get<std::string>()};
  auto found = select_devices(inventory, one);
  if (!found) return fail(found.error());
  return found->front();
}

ControlApi::ControlApi(RolloutExecutor& rollouts, RolloutStore& store, std::string base)
    : rollouts_(rollouts), store_(store), base_(std::move(base)) {}

std::optional<ControlReply> ControlApi::handle(std::string_view topic, std::string_view payload) {
  if (topic != request_topic()) return std::nullopt;
  ControlReply reply{base_ + "/v1/replies", json::object()};
  auto error = [&](const std::string& why) {
    reply.body["ok"] = false;
    reply.body["error"] = why;
    return reply;
  };
  if (payload.size() > kMaxRequestBytes) return error(fmt::format("request: larger than {} bytes", kMaxRequestBytes));
  if (!core::nesting_within(payload, 16)) return error("request: nested too deeply");
  auto request = json::parse(payload, nullptr, false);
  if (request.is_discarded()) return error("request: not JSON");
  if (!request.is_object()) return error("request: must be a JSON object");
  if (request.contains("request_id")) {
    if (!request["request_id"].is_string() || request["request_id"].get_ref<const std::string&>().size() > 128)
      return error("request_id: must be a string of at most 128 characters");
    reply.body["request_id"] = request["request_id"];
  }
  if (request.contains("reply_to")) {
    const auto& r = request["reply_to"];
    if (!r.is_string()) return error("reply_to: must be a topic (a string)");
    const auto& t = r.get_ref<const std::string&>();
    if (t.empty() || t.size() > 256 || t.find_first_of("+#") != std::string::npos || t.find('\0') != std::string::npos)
      return error("reply_to: must be a topic without wildcards, at most 256 characters");
    // Our own state topics are ours alone: an answer must not overwrite them.
    if (t.rfind(base_ + "/v1/", 0) == 0 && t.rfind(base_ + "/v1/replies", 0) != 0)
      return error("reply_to: may not be one of " + base_ + "/v1/'s state topics (use " + base_ + "/v1/replies/…)");
    reply.topic = t;
  }
  if (!request.contains("command") || !request["command"].is_string())
    return error(fmt::format("command: missing; one of {}", kCommands));
  auto command = request["command"].get<std::string>();
  Result<json> result = fail("");
  try {
    result = dispatch(command, request);
  } catch (const std::exception& e) {
    log::warn("control: {} failed: {}", command, e.what());
    result = fail(command + ": " + e.what());
  }
  if (!result) return error(result.error());
  reply.body["ok"] = true;
  reply.body["result"] = std::move(result).value();
  return reply;
}

bool ControlApi::on_message(core::Transport& transport, std::string_view topic, std::string_view payload) {
  auto reply = handle(topic, payload);
  if (!reply) return false;
  log::info("control: {} -> {}",
            reply->body.value("ok", false) ? "answered" : "refused: " + reply->body.value("error", std::string()), reply->topic);
  // Replacing what is not UTF-8 rather than throwing: no answer may take the daemon's loop down.
  transport.publish(reply->topic, reply->body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return true;
}

Result<json> ControlApi::run(const json& request) {
  if (!request.is_object() || !request.contains("command") || !request["command"].is_string())
    return fail(fmt::format("command: missing; one of {}", kCommands));
  try {
    return dispatch(request["command"].get<std::string>(), request);
  } catch (const std::exception& e) {
    return fail(request["command"].get<std::string>() + ": " + e.what());
  }
}

Result<json> ControlApi::dispatch(const std::string& command, const json& request) {
  bool dry_run = false;
  if (request.contains("dry_run")) {
    if (!request["dry_run"].is_boolean()) return fail("dry_run: must be true or false");
    dry_run = request["dry_run"].get<bool>();
  }
  if (command == "rollout.start" || command == "device.upgrade") {
    auto j = spec_part(request);
    if (command == "device.upgrade") {
      // One device or several, named: a rollout of just those, all at once unless a canary is asked for.
      if (j.contains("device")) {
        if (j.contains("devices")) return fail("device, devices: give one of them");
        j["devices"] = json::array({j["device"]});
        j.erase("device");
      }
      if (!j.contains("devices") || !j["devices"].is_array() || j["devices"].empty())
        return fail("devices: name the devices to upgrade (MAC, topic or hostname)");
      if (!j.contains("canary")) j["canary"] = 0;
    }
    auto spec = RolloutSpec::from_json(j);
    if (!spec) return fail(spec.error());
    return rollouts_.start(*spec, dry_run);
  }
  if (command == "rollout.list") {
    std::size_t limit = 50;
    if (request.contains("limit")) {
      if (!request["limit"].is_number_unsigned() || request["limit"].get<std::size_t>() > 1000)
        return fail("limit: a whole number up to 1000");
      limit = request["limit"].get<std::size_t>();
    }
    json out = json::array();
    for (auto& r : store_.list(limit)) out.push_back(rollout_json(store_, r, false));
    return out;
  }
  if (command == "rollout.show" || command == "rollout.pause" || command == "rollout.resume" || command == "rollout.abort" ||
      command == "rollout.retry") {
    auto id = id_of(request);
    if (!id) return fail(id.error());
    if (command == "rollout.pause") return rollouts_.pause(*id);
    if (command == "rollout.resume") return rollouts_.resume(*id);
    if (command == "rollout.abort") return rollouts_.abort(*id);
    if (command == "rollout.retry") return rollouts_.retry(*id);
    auto r = store_.get(*id);
    if (!r) return fail(fmt::format("no rollout #{}", *id));
    return rollout_json(store_, *r, true);
  }
  if (command == "device.backup") {
    if (!backup) return fail("device.backup: not offered by this process");
    return backup(request);
  }
  if (command == "device.forget") {
    if (!forget) return fail("device.forget: not offered by this process");
    return forget(request);
  }
  return fail(fmt::format("command: unknown '{}'; one of {}", core::utf8_prefix(command, 64), kCommands));
}

}  // namespace fleet::orchestrator
