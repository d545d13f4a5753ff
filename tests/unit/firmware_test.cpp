// Firmware image checks and the firmware store. Image layout facts (docs/firmware.md):
// Espressif esp_app_format.h (ESP_IMAGE_HEADER_MAGIC 0xE9, the 24-byte esp_image_header_t with chip_id at
// bytes 12-13, esp_app_desc_t magic 0xABCD5432 after the first segment header); Arduino ESP8266 core
// EspClass::magicFlashChipSize (flash size nibble); release notes / guide: .gz from Tasmota 8.2.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "firmware/firmware_store.h"
#include "firmware/image.h"
#include "firmware/sha256.h"
#include "firmware/synthetic_image.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_firmware_index.h"

using namespace fleet::firmware;
using fleet::planner::Chip;
namespace fs = std::filesystem;

namespace {

std::vector<std::uint8_t> image(Chip chip, std::string version = "9.1.0", std::string build = "tasmota", std::size_t bytes = 40000,
                                bool gz = false) {
  return make_image(SyntheticImage{chip, version, build, bytes, gz});
}

}  // namespace

TEST(Image, Esp8266HeaderMagicAndFlashSize) {
  auto img = image(Chip::ESP8266);
  auto r = inspect(img);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_FALSE(r.info->esp32);
  EXPECT_FALSE(r.info->gzip);
  EXPECT_EQ(img.size(), r.info->file_bytes);
  ASSERT_TRUE(r.info->flash_bytes);
  EXPECT_EQ(4u << 20, *r.info->flash_bytes);  // nibble 4 = 4 MB
  auto id = identify(img);
  ASSERT_TRUE(id);
  EXPECT_EQ("9.1.0", id->version);
  EXPECT_EQ("tasmota", id->build);
}

TEST(Image, Esp32FamilyChipIdFromTheExtendedHeader) {
  for (Chip chip : {Chip::ESP32, Chip::ESP32S2, Chip::ESP32S3, Chip::ESP32C2, Chip::ESP32C3, Chip::ESP32C5, Chip::ESP32C6, Chip::ESP32P4}) {
    auto img = image(chip, "14.2.0", "tasmota32x");
    auto r = inspect(img);
    ASSERT_TRUE(r.ok()) << fleet::planner::to_string(chip) << ": " << r.error;
    EXPECT_TRUE(r.info->esp32);
    EXPECT_EQ(chip, r.info->chip);
    EXPECT_EQ("14.2.0", r.info->app_version);
    EXPECT_EQ("tasmota32x", r.info->project_name);
  }
  EXPECT_EQ(0x0005, *image_id_of(Chip::ESP32C3));  // ESP_CHIP_ID_ESP32C3
  EXPECT_EQ(0x0009, *image_id_of(Chip::ESP32S3));
  EXPECT_FALSE(chip_from_image_id(0x0010));  // ESP32-H2: no Tasmota build
}

TEST(Image, WrongMagicIsRefused) {
  auto img = image(Chip::ESP8266);
  img[0] = 0x7f;
  auto r = inspect(img);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(std::string::npos, r.error.find("0xE9")) << r.error;
  EXPECT_FALSE(inspect(std::vector<std::uint8_t>{}).ok());
  std::string html = "<html>404 not found</html>";
  EXPECT_FALSE(inspect(std::vector<std::uint8_t>(html.begin(), html.end())).ok());
}

TEST(Image, TruncatedImagesAreRefusedAtEveryLength) {
  for (Chip chip : {Chip::ESP8266, Chip::ESP32C3}) {
    auto img = image(chip, "12.0.0", "x", 5000);
    for (std::size_t cut : {1ul, 7ul, 8ul, 20ul, 24ul, 40ul, 300ul, img.size() / 2, img.size() - 17}) {
      std::vector<std::uint8_t> part(img.begin(), img.begin() + static_cast<std::ptrdiff_t>(cut));
      auto r = inspect(part);
      EXPECT_FALSE(r.ok()) << fleet::planner::to_string(chip) << " cut at " << cut;
    }
  }
}

TEST(Image, CorruptSegmentLengthIsRefused) {
  auto img = image(Chip::ESP8266);
  img[8 + 4 + 3] = 0x7f;  // first segment length ~2 GB
  auto r = inspect(img);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(std::string::npos, r.error.find("segment")) << r.error;
}

TEST(Image, GzipContentPassesTheSameChecks) {
  auto gz = image(Chip::ESP8266, "9.1.0", "tasmota", 60000, true);
  auto r = inspect(gz);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(r.info->gzip);
  EXPECT_EQ(gz.size(), r.info->file_bytes);
  EXPECT_GT(r.info->image_bytes, r.info->file_bytes);
  // A gzip of something that is not an image.
  std::vector<std::uint8_t> text(5000, 'a');
  auto r2 = inspect(gzip_bytes(text));
  EXPECT_FALSE(r2.ok());
  EXPECT_NE(std::string::npos, r2.error.find("inside the gzip")) << r2.error;
}

TEST(Image, CorruptAndTruncatedGzipAreRefused) {
  auto gz = image(Chip::ESP8266, "9.1.0", "tasmota", 60000, true);
  std::vector<std::uint8_t> cut(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(gz.size() / 2));
  EXPECT_FALSE(inspect(cut).ok());
  auto bad = gz;
  for (std::size_t i = 20; i < 60; ++i) bad[i] ^= 0x5a;
  EXPECT_FALSE(inspect(bad).ok());
}

TEST(Image, GzipBombIsRefusedWithoutInflatingIt) {
  std::vector<std::uint8_t> zeros(kMaxImageBytes + (1u << 20), 0);
  zeros[0] = 0xE9;
  auto bomb = gzip_bytes(zeros);
  EXPECT_LT(bomb.size(), 100000u);
  auto r = inspect(bomb);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(std::string::npos, r.error.find("inflates beyond")) << r.error;
}

TEST(Image, RandomBytesNeverCrashTheInspector) {
  std::mt19937 rng(7);
  auto base = image(Chip::ESP32, "13.0.0", "tasmota32", 3000);
  for (int i = 0; i < 2000; ++i) {
    auto b = base;
    b.resize(rng() % (b.size() + 1));
    for (int k = 0; k < 8 && !b.empty(); ++k) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
    if (!b.empty() && rng() % 2) b[0] = 0xE9;
    auto r = inspect(b);
    if (r.ok()) {
      EXPECT_LE(r.info->file_bytes, b.size());
    }
  }
}

TEST(Image, SuitabilityForADevice) {
  auto esp8266 = *inspect(image(Chip::ESP8266, "9.1.0", "tasmota", 500 * 1024)).info;
  auto c3 = *inspect(image(Chip::ESP32C3, "14.2.0", "tasmota32c3")).info;
  // Chip family and exact chip.
  EXPECT_TRUE(unsuitable(c3, DeviceFit{Chip::ESP8266, 600, 400, 4096}, false));
  EXPECT_TRUE(unsuitable(esp8266, DeviceFit{Chip::ESP32, 600, 400, 4096}, false));
  auto wrong = unsuitable(c3, DeviceFit{Chip::ESP32S3, {}, {}, {}}, false);
  ASSERT_TRUE(wrong);
  EXPECT_NE(std::string::npos, wrong->find("ESP32-C3")) << *wrong;
  EXPECT_FALSE(unsuitable(c3, DeviceFit{Chip::ESP32C3, {}, {}, {}}, false));
  EXPECT_FALSE(unsuitable(esp8266, DeviceFit{Chip::ESP8285, 600, 400, 1024 * 4}, false));  // ESP8285 takes ESP8266 images
  // Room: a 500 KB .bin into 380 KB free needs the minimal step; the plan that takes it is accepted.
  auto no_room = unsuitable(esp8266, DeviceFit{Chip::ESP8266, 380, 620, 4096}, false);
  ASSERT_TRUE(no_room);
  EXPECT_NE(std::string::npos, no_room->find("-minimal")) << *no_room;
  EXPECT_FALSE(unsuitable(esp8266, DeviceFit{Chip::ESP8266, 380, 620, 4096}, true));
  EXPECT_FALSE(unsuitable(esp8266, DeviceFit{Chip::ESP8266, {}, {}, {}}, false));  // unknown space is not held against it
  // The header asks for 4 MB of flash; a 1 MB device cannot take it.
  EXPECT_TRUE(unsuitable(esp8266, DeviceFit{Chip::ESP8266, 600, 400, 1024}, false));
  // ESP32 OTA takes .bin.
  auto c3gz = *inspect(image(Chip::ESP32C3, "14.2.0", "tasmota32c3", 40000, true)).info;
  EXPECT_TRUE(unsuitable(c3gz, DeviceFit{Chip::ESP32C3, {}, {}, {}}, false));
}

TEST(Sha256, KnownVector) {
  std::string abc = "abc";
  EXPECT_EQ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            sha256_hex(std::span(reinterpret_cast<const std::uint8_t*>(abc.data()), abc.size())));
}

class Store : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("fleet-fw-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    db = std::make_unique<fleet::store::Database>((dir / "fleet.db").string());
    fleet::store::migrate(*db);
    index = std::make_unique<fleet::store::SqliteFirmwareIndex>(*db);
    store = std::make_unique<FirmwareStore>((dir / "fw").string(), *index);
  }
  void TearDown() override { fs::remove_all(dir); }
  AddRequest req(std::string path, std::string version = "9.1.0", std::string build = "tasmota") {
    return AddRequest{std::move(path), std::move(version), std::move(build), Chip::Unknown, "test", std::nullopt};
  }
  std::size_t files_on_disk() {
    std::size_t n = 0;
    if (!fs::exists(dir / "fw")) return 0;
    for (auto& e : fs::recursive_directory_iterator(dir / "fw"))
      if (e.is_regular_file()) ++n;
    return n;
  }
  fs::path dir;
  std::unique_ptr<fleet::store::Database> db;
  std::unique_ptr<fleet::store::SqliteFirmwareIndex> index;
  std::unique_ptr<FirmwareStore> store;
};

TEST_F(Store, AddIndexesHashAndSizeAndWritesUnderItsPath) {
  auto img = image(Chip::ESP8266, "9.1.0", "tasmota-lite", 30000, true);
  auto r = store->add(img, req("tasmota/release-9.1.0/tasmota-lite.bin.gz", "9.1.0", "tasmota-lite"), 1000);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(sha256_hex(img), r.entry->sha256);
  EXPECT_EQ(static_cast<std::int64_t>(img.size()), r.entry->bytes);
  EXPECT_EQ("ESP8266", r.entry->chip);
  EXPECT_TRUE(r.entry->gzip);
  EXPECT_EQ(img.size(), fs::file_size(dir / "fw/tasmota/release-9.1.0/tasmota-lite.bin.gz"));
  auto listed = store->list();
  ASSERT_EQ(1u, listed.size());
  EXPECT_EQ("tasmota-lite", listed[0].build);
  // Adding the same file again is a no-op; another file under the same name is refused.
  EXPECT_TRUE(store->add(img, req("tasmota/release-9.1.0/tasmota-lite.bin.gz"), 2000).ok());
  auto other = image(Chip::ESP8266, "9.1.0", "tasmota-lite", 31000, true);
  auto again = store->add(other, req("tasmota/release-9.1.0/tasmota-lite.bin.gz"), 3000);
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(sha256_hex(img), *sha256_file((dir / "fw/tasmota/release-9.1.0/tasmota-lite.bin.gz").string()));
}

TEST_F(Store, BadImagesNeverEnterTheStore) {
  auto img = image(Chip::ESP8266);
  auto broken = img;
  broken[0] = 0;
  EXPECT_FALSE(store->add(broken, req("tasmota/release-9.1.0/tasmota.bin"), 1).ok());
  // Name and content disagree about gzip.
  EXPECT_FALSE(store->add(img, req("tasmota/release-9.1.0/tasmota.bin.gz"), 1).ok());
  // Pinned hash.
  auto pinned = req("tasmota/release-9.1.0/tasmota.bin");
  pinned.expect_sha256 = std::string(64, '0');
  auto r = store->add(img, pinned, 1);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(std::string::npos, r.error.find("SHA-256 mismatch")) << r.error;
  // A chip the image is not for.
  auto c3 = req("tasmota32/release-14.2.0/tasmota32c3.bin", "14.2.0", "tasmota32c3");
  c3.chip = Chip::ESP32S3;
  EXPECT_FALSE(store->add(image(Chip::ESP32C3, "14.2.0", "tasmota32c3"), c3, 1).ok());
  // Traversal in the target path.
  EXPECT_FALSE(store->add(img, req("../outside.bin"), 1).ok());
  EXPECT_TRUE(store->list().empty());
  EXPECT_EQ(0u, files_on_disk());
}

TEST_F(Store, VerifyFindsTamperedAndMissingFiles) {
  ASSERT_TRUE(store->add(image(Chip::ESP8266), req("tasmota/release-9.1.0/tasmota.bin"), 1).ok());
  ASSERT_TRUE(store->add(image(Chip::ESP8266, "9.1.0", "tasmota-minimal", 20000), req("tasmota/release-9.1.0/tasmota-minimal.bin", "9.1.0", "tasmota-minimal"), 1).ok());
  EXPECT_TRUE(store->verify().empty());
  {
    std::fstream f(dir / "fw/tasmota/release-9.1.0/tasmota.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('X');
  }
  fs::remove(dir / "fw/tasmota/release-9.1.0/tasmota-minimal.bin");
  auto problems = store->verify();
  ASSERT_EQ(2u, problems.size());
  std::map<std::string, std::string> by_path;
  for (auto& p : problems) by_path[p.path] = p.problem;
  EXPECT_NE(std::string::npos, by_path["tasmota/release-9.1.0/tasmota.bin"].find("SHA-256 mismatch"));
  EXPECT_EQ("missing", by_path["tasmota/release-9.1.0/tasmota-minimal.bin"]);
}

TEST_F(Store, ResolvesOnlyIndexedFilesAndTheMinimalBesideThem) {
  ASSERT_TRUE(store->add(image(Chip::ESP8266, "8.5.1", "tasmota"), req("tasmota/release-8.5.1/tasmota.bin", "8.5.1"), 1).ok());
  ASSERT_TRUE(store->add(image(Chip::ESP8266, "8.5.1", "tasmota-minimal", 20000), req("tasmota/release-8.5.1/tasmota-minimal.bin", "8.5.1", "tasmota-minimal"), 1).ok());
  EXPECT_TRUE(store->resolve("tasmota/release-8.5.1/tasmota.bin"));
  // tasmota-facts.md: a device derives NAME-minimal.bin from NAME.bin: "mybuild.bin" → "mybuild-minimal.bin".
  auto m = store->resolve("tasmota/release-8.5.1/mybuild-minimal.bin");
  ASSERT_TRUE(m);
  EXPECT_EQ("tasmota/release-8.5.1/tasmota-minimal.bin", m->path);
  EXPECT_FALSE(store->resolve("tasmota/release-8.5.1/mybuild-minimal.bin.gz"));  // no gz minimal there
  EXPECT_FALSE(store->resolve("tasmota/release-9.1.0/tasmota-minimal.bin"));     // another folder
  for (std::string bad : {"../fleet.db", "tasmota/../../fleet.db", "/etc/passwd", "tasmota/release-8.5.1/../release-8.5.1/tasmota.bin",
                          ".incoming/x.part", "tasmota\\release-8.5.1\\tasmota.bin", "tasmota/release-8.5.1/tasmota.bin%00", ""})
    EXPECT_FALSE(store->resolve(bad)) << bad;
}
