#include "cli/plan_view.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace fleet::cli {

std::string render_plans_json(const std::vector<planner::UpgradePlan>& plans) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& p : plans) {
    nlohmann::ordered_json j;
    j["device"] = p.device;
    j["from"] = p.from.str();
    j["from_build"] = p.from_build;
    j["chip"] = planner::to_string(p.chip);
    if (!p.ok()) {
      j["error"] = p.error;
      out.push_back(std::move(j));
      continue;
    }
    j["target"] = p.target.str();
    j["target_build"] = p.target_build;
    j["hops"] = nlohmann::ordered_json::array();
    for (const auto& h : p.hops) {
      nlohmann::ordered_json hop;
      hop["version"] = h.version.str();
      hop["build"] = h.build;
      hop["url"] = h.url;
      hop["minimal_url"] = h.minimal_url.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(h.minimal_url);
      hop["running"] = h.running.str();
      hop["steps"] = nlohmann::ordered_json::array();
      for (auto s : h.steps) hop["steps"].push_back(std::string(planner::to_string(s)));
      hop["reasons"] = h.reasons;
      j["hops"].push_back(std::move(hop));
    }
    j["notes"] = p.notes;
    out.push_back(std::move(j));
  }
  return out.dump(2) + "\n";
}

std::string render_plans_text(const std::vector<planner::UpgradePlan>& plans) {
  std::string out;
  for (const auto& p : plans) {
    if (!p.ok()) {
      out += fmt::format("{}: {} ({}) — CANNOT PLAN: {}\n\n", p.device, p.from.str(), p.from_build, p.error);
      continue;
    }
    out += fmt::format("{}: {} ({}, {}) -> {} ({}), {} hop{}\n", p.device, p.from.str(), p.from_build, planner::to_string(p.chip),
                       p.target.str(), p.target_build, p.hops.size(), p.hops.size() == 1 ? "" : "s");
    int n = 0;
    for (const auto& h : p.hops) {
      std::string steps;
      for (auto s : h.steps) steps += (steps.empty() ? "" : " > ") + std::string(planner::to_string(s));
      out += fmt::format("  {}. {} {:<16} {}\n", ++n, h.version.str(), h.build, h.url);
      if (!h.minimal_url.empty()) out += fmt::format("     minimal: {}\n", h.minimal_url);
      out += fmt::format("     steps:   {}\n", steps);
      for (const auto& r : h.reasons) out += fmt::format("     why:     {}\n", r);
    }
    for (const auto& note : p.notes) out += fmt::format("  note: {}\n", note);
    out += "\n";
  }
  return out;
}

}  // namespace fleet::cli
