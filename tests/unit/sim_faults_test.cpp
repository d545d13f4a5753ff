// The simulator's fault options (sim/faults.h): what the fleet file and --fault take, and what they refuse.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sim/faults.h"

using fleet::sim::Faults;

TEST(SimFaults, TheFlagNamesADeviceAKindAndAValue) {
  Faults f;
  std::string error;
  EXPECT_EQ("kitchen", fleet::sim::parse_fault_flag("kitchen:boot_loop=2", f, error).value_or("?")) << error;
  EXPECT_EQ(2, f.boot_loop);
  EXPECT_EQ("*", fleet::sim::parse_fault_flag("*:never_returns", f, error).value_or("?")) << error;
  EXPECT_TRUE(f.never_returns);
  ASSERT_TRUE(fleet::sim::parse_fault_flag("porch:download_fails=Update error: Stream Read Timeout", f, error)) << error;
  EXPECT_EQ("Update error: Stream Read Timeout", f.download_fails);  // a bare text, colons and all
  ASSERT_TRUE(fleet::sim::parse_fault_flag("porch:offline_on=FileUpload", f, error)) << error;
  EXPECT_EQ("FileUpload", f.offline_on);
  Faults d;
  ASSERT_TRUE(fleet::sim::parse_fault_flag("porch:download_fails", d, error)) << error;
  EXPECT_EQ("Update error: ERROR[6]: Stream Read Timeout", d.download_fails);  // the ESP8266 updater's stall
}

TEST(SimFaults, BadFaultsAreRefusedNamingWhy) {
  Faults f;
  std::string error;
  EXPECT_FALSE(fleet::sim::parse_fault_flag("kitchen", f, error));
  EXPECT_NE(std::string::npos, error.find("TOPIC:KIND")) << error;
  EXPECT_FALSE(fleet::sim::parse_fault_flag("kitchen:melts", f, error));
  EXPECT_NE(std::string::npos, error.find("unknown fault 'melts'")) << error;
  EXPECT_FALSE(fleet::sim::parse_fault_flag("kitchen:rssi=101", f, error));
  EXPECT_NE(std::string::npos, error.find("rssi takes a whole number from 0 to 100")) << error;
  EXPECT_FALSE(fleet::sim::parse_fault_flag("kitchen:safeboot=maybe", f, error));
  EXPECT_NE(std::string::npos, error.find("safeboot takes true or false")) << error;
  EXPECT_EQ(-1, f.rssi);  // nothing taken from a refused flag
  EXPECT_FALSE(f.safeboot);
  EXPECT_THROW(fleet::sim::apply_faults(nlohmann::json{{"boot_loop", "often"}}, f, "device #3"), std::runtime_error);
  try {
    fleet::sim::apply_faults(nlohmann::json::array(), f, "device #3");
    ADD_FAILURE() << "an array is no faults object";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string("device #3: faults must be an object"), e.what());
  }
}
