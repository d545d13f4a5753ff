// diff_settings: the named leaves both settings hold that differ; secrets by path only; volatile
// counters (save_flag, bootcount, …) never reported; fields of one layout only counted, not compared.
#include <gtest/gtest.h>

#include "backup/settings_diff.h"

using fleet::backup::diff_settings;
using nlohmann::ordered_json;

TEST(SettingsDiff, NamesChangedLeavesHidesSecretsAndCountsFieldsOfOneLayout) {
  auto before = ordered_json::parse(R"({"friendlyname": ["Kitchen", "Two"], "mqtt_grptopic": "tasmotas", "sta_pwd": ["a", "b"],
                                        "save_flag": 10, "bootcount": 3, "old_only": 1, "ledstate": 1})");
  auto after = ordered_json::parse(R"({"friendlyname": ["Kitchen", "Deux"], "mqtt_grptopic": "tasmotas", "sta_pwd": ["a", "c"],
                                       "save_flag": 11, "bootcount": 4, "new_only": 2, "newer_too": 0, "ledstate": 1})");
  auto d = diff_settings(before, after);
  ASSERT_EQ(1u, d.changed.size());
  EXPECT_EQ("friendlyname[1]", d.changed[0].field);
  EXPECT_EQ("\"Two\"", d.changed[0].expected);
  EXPECT_EQ("\"Deux\"", d.changed[0].actual);
  EXPECT_EQ(std::vector<std::string>{"sta_pwd[1]"}, d.secrets_changed);
  EXPECT_EQ(1, d.only_before);
  EXPECT_EQ(2, d.only_after);
  EXPECT_FALSE(d.empty());
  EXPECT_TRUE(diff_settings(before, before).empty());
}
