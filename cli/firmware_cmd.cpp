#include "cli/firmware_cmd.h"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "firmware/firmware_store.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_firmware_index.h"

namespace fleet::cli {
namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool file_is_gzip(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  unsigned char b[2] = {0, 0};
  in.read(reinterpret_cast<char*>(b), 2);
  return in.gcount() == 2 && b[0] == 0x1f && b[1] == 0x8b;
}

}  // namespace

std::string store_path_for(const planner::Catalog& catalog, const std::string& version, const std::string& build,
                           const std::string& chip_text, bool gzip) {
  auto v = planner::Version::parse(version);
  if (!v) throw std::runtime_error("--version: '" + version + "' is not a version");
  planner::Chip chip = chip_text.empty() ? planner::Chip::ESP8266 : planner::parse_chip(chip_text);
  bool esp32 = planner::is_esp32_family(chip) || build.rfind("tasmota32", 0) == 0;
  std::string image = esp32 ? build : catalog.image_name(build);
  std::string file = (esp32 ? image : catalog.era_image(image, *v)) + (gzip ? ".bin.gz" : ".bin");
  return catalog.image_path(*v, file, esp32);
}

int firmware_add(const FirmwareOptions& o, const planner::Catalog& catalog, const std::string& file) {
  if (o.version.empty() || o.build.empty()) throw std::runtime_error("firmware add needs --version and --build");
  if (!planner::Version::parse(o.version)) throw std::runtime_error("--version: '" + o.version + "' is not a version");
  planner::Chip chip = planner::Chip::Unknown;
  if (!o.chip.empty()) {
    chip = planner::parse_chip(o.chip);
    if (chip == planner::Chip::Unknown) throw std::runtime_error("--chip: '" + o.chip + "' is not a chip");
  }
  std::string build = o.build.rfind("tasmota32", 0) == 0 ? o.build : catalog.image_name(o.build);
  std::string path = o.path.empty() ? store_path_for(catalog, o.version, build, o.chip, file_is_gzip(file)) : o.path;
  store::Database db(o.db_path);
  store::migrate(db);
  store::SqliteFirmwareIndex index(db);
  firmware::FirmwareStore fw(o.dir, index);
  firmware::AddRequest req{path, o.version, build, chip, "add " + std::filesystem::absolute(file).string(),
                           o.sha256.empty() ? std::nullopt : std::optional<std::string>(o.sha256)};
  auto r = fw.add_file(file, req, wall_ms());
  if (!r.ok()) {
    std::cerr << "tasmota-fleet: " << file << ": " << r.error << "\n";
    return 1;
  }
  std::cout << fmt::format("added {} ({} {} {}, {} bytes, sha256 {})\n", r.entry->path, r.entry->version, r.entry->build, r.entry->chip,
                           r.entry->bytes, r.entry->sha256);
  return 0;
}

int firmware_list(const FirmwareOptions& o) {
  if (!std::filesystem::exists(o.db_path)) {
    std::cout << (o.json ? "[]\n" : "the firmware store is empty\n");
    return 0;
  }
  store::Database db(o.db_path);
  store::migrate(db);
  store::SqliteFirmwareIndex index(db);
  auto all = index.all();
  if (o.json) {
    auto arr = nlohmann::ordered_json::array();
    for (const auto& e : all)
      arr.push_back({{"path", e.path}, {"version", e.version}, {"build", e.build}, {"chip", e.chip}, {"bytes", e.bytes},
                     {"gzip", e.gzip}, {"sha256", e.sha256}, {"source", e.source}, {"added_ms", e.added_ms}});
    std::cout << arr.dump(2) << "\n";
    return 0;
  }
  if (all.empty()) {
    std::cout << "the firmware store is empty\n";
    return 0;
  }
  std::cout << fmt::format("{:<52} {:<9} {:<18} {:<9} {:>9}  {}\n", "PATH", "VERSION", "BUILD", "CHIP", "BYTES", "SHA-256");
  for (const auto& e : all)
    std::cout << fmt::format("{:<52} {:<9} {:<18} {:<9} {:>9}  {}\n", e.path, e.version, e.build, e.chip, e.bytes, e.sha256.substr(0, 16));
  return 0;
}

int firmware_verify(const FirmwareOptions& o) {
  store::Database db(o.db_path);
  store::migrate(db);
  store::SqliteFirmwareIndex index(db);
  firmware::FirmwareStore fw(o.dir, index);
  auto problems = fw.verify();
  auto count = index.all().size();
  for (const auto& p : problems) std::cout << fmt::format("{}: {}\n", p.path, p.problem);
  std::cout << fmt::format("{} image{} checked, {} problem{}\n", count, count == 1 ? "" : "s", problems.size(), problems.size() == 1 ? "" : "s");
  return problems.empty() ? 0 : 1;
}

}  // namespace fleet::cli
