// The `plan --json` interface others build on: target, hops with version/build/url/steps, notes or error.
#include "cli/plan_view.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using namespace fleet::planner;

TEST(PlanView, JsonCarriesTheAgreedFields) {
  Planner planner(Catalog::builtin());
  fleet::inventory::DeviceRecord ok;
  ok.mac = "AA:BB:CC:DD:EE:01";
  ok.topic = "kitchen";
  ok.version = "8.5.1";
  ok.build = "tasmota";
  ok.chip = "ESP8266";
  ok.free_kb = 380;
  ok.program_kb = 600;
  fleet::inventory::DeviceRecord unknown = ok;
  unknown.topic = "attic";
  unknown.version.reset();
  PlanRequest r{*Version::parse("9.1.0"), ""};
  auto j = nlohmann::json::parse(fleet::cli::render_plans_json(
      {fleet::cli::plan_device(planner, ok, r), fleet::cli::plan_device(planner, unknown, r)}));
  ASSERT_EQ(2u, j.size());
  EXPECT_EQ("kitchen", j[0]["device"]);
  EXPECT_EQ("9.1.0", j[0]["target"]);
  ASSERT_EQ(1u, j[0]["hops"].size());
  EXPECT_EQ("9.1.0", j[0]["hops"][0]["version"]);
  EXPECT_EQ("tasmota", j[0]["hops"][0]["build"]);
  EXPECT_EQ("http://ota.tasmota.com/tasmota/release-9.1.0/tasmota.bin.gz", j[0]["hops"][0]["url"]);
  EXPECT_EQ("Backup", j[0]["hops"][0]["steps"][0]);
  EXPECT_TRUE(j[0]["notes"].is_array());
  EXPECT_FALSE(j[1].contains("hops"));
  EXPECT_NE(std::string::npos, j[1]["error"].get<std::string>().find("attic: firmware version not known"));
  auto text = fleet::cli::render_plans_text({fleet::cli::plan_device(planner, unknown, r)});
  EXPECT_NE(std::string::npos, text.find("CANNOT PLAN"));
}
