// What a Tasmota device does on `Upgrade 1`, as the simulator plays it. Facts (docs/simulator.md):
// - support_tasmota.ino (OTA state machine): the outcome is published on stat/<topic>/UPGRADE as
//   {"Upgrade":"Successful. Restarting"} or {"Upgrade":"Failed <error string of the HTTP updater>"};
//   on "too less space" or "bin for wrong flash" it sets RtcSettings.ota_loader and retries with the
//   minimal URL (file name cut at its last '-', else '.', plus "-minimal" and the extension);
// - the minimal build, once booted, fetches the original OtaUrl again by itself (tasmota-facts.md);
// - ESP8266 HTTP updater (Arduino core ESP8266httpUpdate): size larger than the free sketch space ->
//   "Not Enough space"; first byte not 0xE9 (and not gzip on a core that inflates) -> "Verify Bin
//   Header Failed"; header flash size beyond the real flash -> "New Binary Does Not Fit Flash Size";
//   404 -> "File Not Found (404)", other codes "Wrong HTTP Code"; .gz only from Tasmota 8.2;
// - ESP32 (Arduino-ESP32 HTTPUpdate + Tasmota's TasUpdate): magic checked on the first block; the
//   image is verified (chip id included) when it is made the boot partition, a failure there is
//   UPDATE_ERROR_ACTIVATE, reported as "Update error: Could Not Activate The Firmware";
// - an ESP8266 does not look at the chip: an ESP32 image passes its header check and the device
//   never boots again (here: it drops off the broker for good).
#include <fmt/format.h>

#include <deque>
#include <mutex>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "firmware/image.h"
#include "firmware/synthetic_image.h"
#include "planner/chip.h"
#include "planner/upgrade_plan.h"
#include "backup/settings_migration.h"
#include "sim/sim_device.h"
#include "sim/sim_settings.h"

namespace fleet::sim {
namespace {

// The simulator's devices of one fleet download the same few images: each is inflated once and the
// result shared (inflating a 600 KB image for every device was a fifth of the simulator's CPU in
// bench/rollout), keyed by the compressed bytes themselves. A device still checks what it was given.
std::optional<std::vector<std::uint8_t>> inflate_shared(const std::vector<std::uint8_t>& body) {
  struct Entry {
    std::size_t hash;
    std::vector<std::uint8_t> gz;
    std::optional<std::vector<std::uint8_t>> plain;
  };
  static std::mutex mu;
  static std::deque<Entry> recent;
  auto hash = std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(body.data()), body.size()));
  {
    std::lock_guard lock(mu);
    for (auto& e : recent)
      if (e.hash == hash && e.gz == body) return e.plain;
  }
  std::string error;
  auto plain = firmware::gunzip(body, firmware::kMaxImageBytes, error);
  std::lock_guard lock(mu);
  recent.push_front({hash, body, plain});
  if (recent.size() > 4) recent.pop_back();
  return plain;
}

// "tasmota-lite" -> "lite", "sonoff-minimal" -> "minimal", "tasmota32c3" stays: the name the version
// string shows in parentheses.
std::string code_image(const std::string& image) {
  for (std::string prefix : {"tasmota-", "sonoff-"})
    if (image.rfind(prefix, 0) == 0) return image.substr(prefix.size());
  return image;
}

// Without a marker in the image the version is read from an OTA-server folder ("release-9.1.0").
std::optional<std::string> version_from_url(const std::string& url) {
  for (std::string key : {"release-", "release_", "/v"}) {
    auto at = url.rfind(key);
    if (at == std::string::npos) continue;
    auto end = url.find('/', at + key.size());
    auto v = planner::Version::parse(url.substr(at + key.size(), end == std::string::npos ? std::string::npos : end - at - key.size()));
    if (v) return v->str();
  }
  return std::nullopt;
}

}  // namespace

void SimDevice::start_ota(Reaction& out, const std::string& url) {
  ota_active_ = true;
  ota_loader_ = false;
  ota_original_url_ = url;
  out.fetch = url;
}

std::optional<std::string> SimDevice::take_boot_fetch() {
  auto f = std::move(boot_fetch_);
  boot_fetch_.reset();
  if (f && spec_.faults.stuck_minimal && spec_.build == "minimal") f.reset();  // fault: it never goes on
  if (f) {
    ota_active_ = true;
    ota_loader_ = false;
    ota_original_url_ = *f;
  }
  return f;
}

void SimDevice::apply_pending() {
  if (!pending_) return;
  auto v = planner::Version::parse(pending_->version);
  // The new firmware migrates the settings it finds (backup/settings_migration.h), GPIOs across 9.1 too.
  planner::Version v6{6, 0, 0, 0};
  if (v && version_ >= v6 && *v >= v6 && *v != version_) {
    stored_ = backup::migrate_settings(settings_file(spec_, version_, stored_), *v, backup::Migration::Firmware);
    settings_from_file(*stored_, spec_.settings);
  }
  if (v) {
    version_ = *v;
    spec_.version = v->str();
    traits_ = FirmwareTraits::of(version_);
  }
  spec_.build = pending_->build;
  int area = spec_.program_kb + spec_.free_kb;
  spec_.program_kb = pending_->program_kb;
  spec_.free_kb = std::max(0, area - pending_->program_kb);
  pending_.reset();
}

Reaction SimDevice::ota_downloaded(const OtaDownload& d, std::int64_t /*now_ms*/) {
  Reaction out;
  const planner::Chip chip = planner::parse_chip(spec_.chip);
  const bool esp32 = planner::is_esp32_family(chip);
  const bool running_minimal = spec_.build == "minimal";
  auto finish = [&](const std::string& text) {
    ota_active_ = false;
    out.publish.push_back({full(1, "UPGRADE"), nlohmann::ordered_json{{"Upgrade", text}}.dump(), false});
    return out;
  };
  auto fail = [&](const std::string& why, bool minimal_helps) {
    if (minimal_helps && !esp32 && !running_minimal && !ota_loader_) {
      ota_loader_ = true;  // RtcSettings.ota_loader: try the minimal image next
      out.fetch = planner::minimal_url(ota_original_url_, version_ < planner::Version{6, 0, 0, 0});
      return out;
    }
    return finish("Failed " + why);
  };

  if (!spec_.faults.download_fails.empty()) return fail(spec_.faults.download_fails, false);  // fault
  if (d.http_status == 0) return fail("HTTP error: connection failed", false);
  if (d.http_status == 404) return fail("File Not Found (404)", false);
  if (d.http_status == 403) return fail("Forbidden (403)", false);
  if (d.http_status != 200) return fail("Wrong HTTP Code", false);
  // ESP8266httpUpdate: the size comes from Content-Length and is checked before any byte is written.
  std::size_t size = d.declared_size ? d.declared_size : d.body.size();
  if (size == 0) return fail("Server Did Not Report Size", false);
  if (size > static_cast<std::size_t>(spec_.free_kb) * 1024) return fail("Not Enough space", true);
  if (d.body.size() != size) return fail("HTTP error: connection failed", false);

  std::vector<std::uint8_t> plain;
  bool gz = d.body.size() >= 2 && d.body[0] == 0x1f && d.body[1] == 0x8b;
  if (gz) {
    if (esp32 || version_ < planner::Version{8, 2, 0, 0}) return fail("Verify Bin Header Failed", false);
    auto inflated = inflate_shared(d.body);
    if (!inflated) return fail("Verify Bin Header Failed", false);
    plain = std::move(*inflated);
  } else {
    plain = d.body;
  }
  if (plain.empty() || plain[0] != 0xE9) return fail(esp32 ? "Update error: Wrong Magic Byte" : "Verify Bin Header Failed", false);
  auto info = firmware::inspect(plain);
  if (esp32) {
    if (!info.ok() || !info.info->esp32 || info.info->chip != chip) return fail("Update error: Could Not Activate The Firmware", false);
  } else {
    if (info.ok() && info.info->esp32) {
      // Flashed: the ESP8266 boot ROM cannot start it. Only a serial flash brings the device back.
      out = finish("Successful. Restarting");
      out.bricked = true;
      return out;
    }
    if (info.ok() && info.info->flash_bytes && *info.info->flash_bytes > static_cast<std::uint32_t>(spec_.flash_kb) * 1024)
      return fail("New Binary Does Not Fit Flash Size", true);
    if (!info.ok()) return fail("Verify Bin Header Failed", false);
  }

  PendingImage next;
  auto id = firmware::identify(plain);
  next.version = id ? id->version : version_from_url(d.url).value_or(version_.str());
  std::string image = id ? id->build : "";
  if (image.empty()) {
    auto slash = d.url.rfind('/');
    std::string file = d.url.substr(slash == std::string::npos ? 0 : slash + 1);
    image = file.substr(0, file.find('.'));
  }
  next.build = code_image(image);
  next.program_kb = static_cast<int>((plain.size() + 1023) / 1024);
  pending_ = next;
  if (ota_loader_) boot_fetch_ = ota_original_url_;  // the minimal build continues with the real image
  out = finish("Successful. Restarting");
  out.restart = true;
  if (spec_.faults.keeps_old_version) {  // fault: the new image does not take; the old one boots again
    pending_.reset();
    boot_fetch_.reset();
  }
  if (spec_.faults.never_returns) out.bricked = true;  // fault: it never comes back
  return out;
}

}  // namespace fleet::sim
