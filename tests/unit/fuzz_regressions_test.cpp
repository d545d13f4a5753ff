// What the fuzzers (tests/fuzz, docs/fuzzing.md) found, each fixed: the input that broke it, reduced,
// and what must hold for it now. Also built under the sanitizers as tests/fuzz/fuzz_regressions_test.
#include <gtest/gtest.h>

#include <string>

#include "core/utf8_prefix.h"
#include "fakes.h"
#include "inventory/payloads.h"
#include "orchestrator/control_api.h"
#include "orchestrator/rollout_spec.h"
#include "planner/catalog.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_audit_log.h"
#include "store/sqlite_backup_store.h"
#include "store/sqlite_job_store.h"
#include "store/sqlite_rollout_store.h"

using namespace fleet;

// fuzz_payloads: Tasmota's discovery "tp" (the three prefixes) was taken as it came and joined, so a NUL,
// a control byte or 60 KB of text reached the record, the database and `devices --json`. Found input:
// tasmota/discovery/2C3AE8123456/config {…,"tp":["cmnd","stat","t\u0000ele"]}.
TEST(FuzzRegressions, DiscoveryPrefixesAreCheckedLikeEveryTextField) {
  auto parse = [](const std::string& tp) {
    return inventory::parse_payload(inventory::MessageKind::Discovery, R"({"mac":"2C3AE8123456","tp":)" + tp + "}");
  };
  EXPECT_EQ("cmnd,stat,tele", parse(R"(["cmnd","stat","tele"])").facts.prefixes);
  for (const std::string& bad : {std::string(R"(["cmnd","stat","t\u0000ele"])"),
                                 std::string(R"(["cmnd","stat","tele\u001b[2J"])"), std::string(R"(["cmnd","st,at","tele"])"),
                                 std::string(R"(["","stat","tele"])"), R"([")" + std::string(65, 'x') + R"(","stat","tele"])",
                                 std::string(R"(["cmnd","stat",7])"), std::string(R"(["cmnd","stat"])")}) {
    auto r = parse(bad);
    EXPECT_TRUE(r.ok()) << bad;  // one bad field: the rest of the message still counts
    EXPECT_EQ("2C:3A:E8:12:34:56", r.facts.mac) << bad;
    EXPECT_FALSE(r.facts.prefixes) << bad;
    EXPECT_FALSE(r.dropped.empty()) << bad;
  }
}

// Reading fuzz_catalog's target: a catalog file's wrong types escaped as nlohmann's type_error instead of
// CatalogError naming the key, and an image_kb above 2^31 was read modulo 2^32 (4294967297 as 1 KB).
// fuzz_catalog: a checkpoint listed twice made two hops to the same version (6.7.1 → 6.7.1).
TEST(FuzzRegressions, CatalogRefusesWrongTypesAndSizesWithItsOwnError) {
  for (const char* bad :
       {R"({"checkpoints":[{"version":"1.0.0","entry_only":"yes","dir":"x"}]})",
        R"({"eras":[{"before":"7.0.0","rename":{"tasmota-lite":1}}]})", R"({"image_kb":{"tasmota":4294967297}})",
        R"({"image_kb":{"tasmota":18446744073709551615}})", R"({"image_kb":{"tasmota":0}})",
        R"({"checkpoints":[{"version":"6.7.1","build":"sonoff","dir":"release_6.7.1"},)"
        R"({"version":"6.7.1","build":"sonoff","dir":"release_6.7.1"}]})"})
    EXPECT_THROW(planner::Catalog::parse(bad), planner::CatalogError) << bad;
  EXPECT_EQ(610, planner::Catalog::parse(R"({"image_kb":{"tasmota-mybuild":610}})").image_kb("tasmota-mybuild"));
  EXPECT_TRUE(
      planner::Catalog::parse(R"({"checkpoints":[{"version":"1.0.11","entry_only":true}]})").checkpoints().front().entry_only);
}

// fuzz_control: an unknown command of 63 ASCII bytes and an "é" was quoted cut at 64 bytes, half the "é"
// in the answer; its dump() threw (type_error 316) out of ControlApi::on_message and took the daemon's
// loop down: one message on the control topic stopped the daemon. The same cut in RolloutSpec's quoting
// of long values. Found input: {"command":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaé"}.
TEST(FuzzRegressions, QuotedRequestTextIsCutBetweenCharacters) {
  EXPECT_EQ("ab", core::utf8_prefix("ab\xc3\xa9", 3));
  EXPECT_EQ("ab\xc3\xa9", core::utf8_prefix("ab\xc3\xa9", 4));
  EXPECT_EQ("a", core::utf8_prefix("a\xe2\x82\xac", 3));
  EXPECT_EQ("", core::utf8_prefix("\xf0\x9f\x98\x80", 2));
  EXPECT_EQ("abc", core::utf8_prefix("abc", 64));

  store::Database db{":memory:"};
  store::migrate(db);
  store::SqliteRolloutStore rollouts{db};
  store::SqliteAuditLog audit{db};
  store::SqliteJobStore jobs{db};
  store::SqliteBackupStore backups{db};
  fleet::testing::FakeClock clock;
  fleet::testing::FakeTransport transport;
  fleet::testing::FakeStore inv_store;
  inventory::Inventory inv{mqtt::TopicScheme(), transport, inv_store, clock};
  orchestrator::JobRunner runner{transport, clock, orchestrator::JobRunnerOptions{mqtt::TopicScheme(), 100}};
  orchestrator::RolloutExecutor exec{{rollouts, audit, jobs, backups, runner, inv, transport, clock}, {}};
  orchestrator::ControlApi api{exec, rollouts, "tasmota-fleet"};
  const std::string e_acute = "\xc3\xa9";
  struct Case {
    std::string request, quoted;
  } cases[] = {
      {R"({"command":")" + std::string(63, 'a') + e_acute + R"("})", "'" + std::string(63, 'a') + "'"},
      {R"({"command":"rollout.start","devices":"all","waves":")" + std::string(39, '1') + e_acute + R"("})",
       "'" + std::string(39, '1') + "…'"},
  };
  for (const auto& c : cases) {
    ASSERT_TRUE(api.on_message(transport, api.request_topic(), c.request)) << c.request;
    const std::string& published = transport.sent.back().second;
    EXPECT_EQ(std::string::npos, published.find("\xef\xbf\xbd")) << "a character cut in two: " << published;
    auto answer = nlohmann::json::parse(published);
    EXPECT_FALSE(answer["ok"].get<bool>());
    EXPECT_NE(std::string::npos, answer["error"].get<std::string>().find(c.quoted)) << published;
  }
}
