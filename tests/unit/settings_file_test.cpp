// Settings files from outside: `decode FILE` offline and `backup import FILE…` into a real SQLite file,
// with the .dmp vectors of tests/data/dmp (decode-config v15.0.1.3's decodings beside them) and
// decode-config's own JSON backups of them.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "backup/settings_file.h"
#include "backup/settings_layouts.h"
#include "cli/backup_cmd.h"
#include "cli/settings_file_cmd.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_backup_store.h"
#include "store/sqlite_inventory_store.h"

namespace fs = std::filesystem;
using namespace fleet;
using nlohmann::ordered_json;

namespace {

std::string data_path(const std::string& name) { return std::string(FLEET_TEST_DATA) + "/dmp/" + name; }

std::vector<std::uint8_t> bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// What a command printed on stdout.
template <typename F>
std::pair<int, std::string> printed(F f) {
  std::ostringstream out;
  auto* old = std::cout.rdbuf(out.rdbuf());
  int rc = f();
  std::cout.rdbuf(old);
  return {rc, out.str()};
}

class SettingsFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("fleet-import-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    db = (dir / "fleet.db").string();
  }
  void TearDown() override { fs::remove_all(dir); }
  // A device of the inventory with this topic, version and chip.
  void add_device(const std::string& mac, const std::string& topic, const std::string& version, const std::string& chip) {
    store::Database d(db);
    store::migrate(d);
    store::SqliteInventoryStore inv(d);
    inventory::DeviceRecord r;
    r.mac = mac;
    r.topic = topic;
    r.version = version;
    r.chip = chip;
    inv.save_devices({r});
  }
  std::vector<backup::BackupRecord> stored() {
    store::Database d(db);
    store::migrate(d);
    store::SqliteBackupStore b(d);
    return b.list(std::nullopt);
  }
  ordered_json decoded_backup(std::int64_t id) {
    store::Database d(db);
    store::SqliteBackupStore b(d);
    auto r = b.get(id);
    auto f = backup::read_dmp(r->dmp);
    EXPECT_TRUE(f.file) << f.error;
    return backup::SettingsLayouts::builtin().decode(*f.file).fields;
  }
  fs::path dir;
  std::string db;
};

}  // namespace

TEST_F(SettingsFiles, DecodeShowsTheVerdictAndEveryField) {
  auto [rc, out] = printed([] { return cli::decode_file({data_path("random-8.5.1.dmp"), "json", true}); });
  EXPECT_EQ(0, rc);
  auto doc = ordered_json::parse(out);
  EXPECT_TRUE(doc["header"]["valid"].get<bool>());
  EXPECT_EQ("8.5.1", doc["header"]["version"]);
  std::ifstream in(data_path("random-8.5.1.json"));
  auto theirs = ordered_json::parse(in);
  EXPECT_EQ(theirs["mqtt_host"], doc["mqtt_host"]);
  EXPECT_EQ(theirs.size(), doc.size());  // every field decode-config shows, and the header

  auto [rc2, masked] = printed([] { return cli::decode_file({data_path("random-8.5.1.dmp"), "json", false}); });
  EXPECT_EQ("********", ordered_json::parse(masked)["mqtt_pwd"]);

  auto [bad, why] = printed([] { return cli::decode_file({data_path("random-8.5.1.cmnd.txt"), "text", false}); });
  EXPECT_EQ(1, bad);
  EXPECT_NE(std::string::npos, why.find("not valid: not a Tasmota settings file")) << why;
  auto flipped = bytes_of(data_path("random-15.0.1.dmp"));
  flipped[0x200] ^= 1;
  std::ofstream(dir / "flipped.dmp", std::ios::binary).write(reinterpret_cast<const char*>(flipped.data()), static_cast<std::streamsize>(flipped.size()));
  auto [crc, crc_why] = printed([&] { return cli::decode_file({(dir / "flipped.dmp").string(), "json", false}); });
  EXPECT_EQ(1, crc);
  EXPECT_NE(std::string::npos, ordered_json::parse(crc_why)["reason"].get<std::string>().find("CRC-32 mismatch"));
}

TEST_F(SettingsFiles, ImportMatchesTheDeviceByTheTopicInTheFileAndStoresTheSameSettings) {
  auto fields = backup::SettingsLayouts::builtin().decode(*backup::read_dmp(bytes_of(data_path("random-15.0.1.dmp"))).file).fields;
  add_device("5C:CF:7F:00:00:01", fields["mqtt_topic"].get<std::string>(), "15.0.1", "ESP8266");
  add_device("5C:CF:7F:00:00:02", "other", "15.0.1", "ESP8266");
  auto [rc, out] = printed([&] { return cli::import_backups({db, {data_path("random-15.0.1.dmp")}, std::nullopt, false}); });
  EXPECT_EQ(0, rc) << out;
  auto rows = stored();
  ASSERT_EQ(1u, rows.size());
  EXPECT_EQ("5C:CF:7F:00:00:01", rows[0].device_mac);
  EXPECT_EQ("import", rows[0].method);
  EXPECT_EQ(fields, decoded_backup(rows[0].id));
}

TEST_F(SettingsFiles, DecodeConfigsJsonBackupImportsAsTheSameSettings) {
  add_device("5C:CF:7F:00:00:01", "kitchen", "15.0.1", "ESP8266");
  auto [rc, out] = printed([&] { return cli::import_backups({db, {data_path("random-15.0.1.json")}, std::string("kitchen"), false}); });
  EXPECT_EQ(0, rc) << out;
  auto rows = stored();
  ASSERT_EQ(1u, rows.size());
  auto original = backup::SettingsLayouts::builtin().decode(*backup::read_dmp(bytes_of(data_path("random-15.0.1.dmp"))).file).fields;
  auto imported = decoded_backup(rows[0].id);
  for (auto* header : {"cfg_crc", "cfg_crc32", "cfg_holder", "cfg_size", "cfg_timestamp", "save_flag"}) original.erase(header), imported.erase(header);
  original.erase("ms5837_pressure_offset");  // decode-config's JSON holds it cut to an integer (dmp_vectors_test)
  imported.erase("ms5837_pressure_offset");
  EXPECT_EQ(original, imported);
}

TEST_F(SettingsFiles, ExportedJsonImportedAndExportedAsDmpIsTheSameSettings) {
  add_device("5C:CF:7F:00:00:01", "kitchen", "14.2.0", "ESP32-C3");
  ASSERT_EQ(0, printed([&] { return cli::import_backups({db, {data_path("random-14.2.0-esp32c3.dmp")}, std::string("kitchen"), false}); }).first);
  auto first = stored().at(0).id;
  auto json_path = (dir / "kitchen.json").string(), dmp_path = (dir / "kitchen.dmp").string();
  cli::ExportOptions e;
  e.db = db;
  e.id = first;
  e.format = "json";
  e.output = json_path;
  e.with_secrets = true;
  ASSERT_EQ(0, cli::export_backup(e));
  ASSERT_EQ(0, printed([&] { return cli::import_backups({db, {json_path}, std::string("kitchen"), false}); }).first);
  auto second = stored().at(0).id;
  ASSERT_NE(first, second);
  e.id = second;
  e.format = "dmp";
  e.output = dmp_path;
  ASSERT_EQ(0, cli::export_backup(e));
  auto a = backup::SettingsLayouts::builtin().decode(*backup::read_dmp(bytes_of(data_path("random-14.2.0-esp32c3.dmp"))).file).fields;
  auto b = backup::SettingsLayouts::builtin().decode(*backup::read_dmp(bytes_of(dmp_path)).file).fields;
  for (auto* header : {"cfg_crc", "cfg_crc32", "cfg_holder", "cfg_size", "cfg_timestamp", "save_flag"}) a.erase(header), b.erase(header);
  EXPECT_EQ(a, b);

  // Without --with-secrets the export masks them: an import says they are missing and writes none.
  e.id = first;
  e.format = "json";
  e.output = json_path;
  e.with_secrets = false;
  ASSERT_EQ(0, cli::export_backup(e));
  auto [rc, out] = printed([&] { return cli::import_backups({db, {json_path}, std::string("kitchen"), false}); });
  EXPECT_EQ(0, rc);
  EXPECT_NE(std::string::npos, out.find("secret value(s) were masked in the file and are not in it")) << out;
  EXPECT_EQ("", decoded_backup(stored().at(0).id)["mqtt_pwd"]);
}

TEST_F(SettingsFiles, AFileThatDoesNotFitItsDeviceIsRefusedAndNothingIsStored) {
  add_device("5C:CF:7F:00:00:01", "kitchen", "9.1.0", "ESP8266");
  add_device("5C:CF:7F:00:00:03", "garage", "15.0.1", "ESP32");
  auto refused = [&](const std::string& file, std::optional<std::string> device, const std::string& why) {
    auto [rc, out] = printed([&] { return cli::import_backups({db, {file}, device, false}); });
    EXPECT_EQ(1, rc) << file;
    EXPECT_NE(std::string::npos, out.find(why)) << out;
  };
  refused(data_path("random-15.0.1.dmp"), std::string("kitchen"), "newer than the device's 9.1.0");
  refused(data_path("random-8.5.1.dmp"), std::string("garage"), "the file is for ESP8266");
  refused(data_path("random-8.5.1.dmp"), std::nullopt, "no device of the inventory has its topic");
  refused(data_path("random-8.5.1.dmp"), std::string("nobody"), "no device 'nobody' in the inventory");
  refused(data_path("random-8.5.1.cmnd.txt"), std::string("kitchen"), "not a Tasmota settings file");
  std::ofstream(dir / "bad.json") << R"({"version": "0x09010000", "mqtt_port": 70000})";
  refused((dir / "bad.json").string(), std::string("kitchen"), "mqtt_port: 70000 out of range");
  std::ofstream(dir / "noversion.json") << R"({"mqtt_port": 1883})";
  refused((dir / "noversion.json").string(), std::string("kitchen"), "without its Tasmota version");
  EXPECT_TRUE(stored().empty());
}
