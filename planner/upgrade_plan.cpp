#include "planner/upgrade_plan.h"

#include <algorithm>

namespace fleet::planner {
namespace {

// The rules, each with the sentence it rests on (../shared/reference/tasmota-upgrading-guide.md unless
// marked otherwise).
constexpr const char* kRulePath =
    "guide: \"you must take each individual step between the device firmware version and the latest available\"";
constexpr const char* kRuleGz = "guide: \"Gzipped binaries can be used only once you've upgraded to atleast Tasmota 8.2\"";
constexpr const char* kRuleNoMinimalTarget =
    "guide: \"Do not install only tasmota-minimal.bin but upgrade to full, working firmware\"";
constexpr const char* kRuleMinimalToFull =
    "release notes: never upgrade minimal -> minimal; OTA to a full build of the same release first";
constexpr const char* kRuleGpio91 =
    "guide: \"Tasmota v9.1 introduced a major change in GPIO mapping. Downgrading is not recommended and will probably "
    "not work correctly\"";
constexpr const char* kRuleSettings81 =
    "guide: \"Starting with release v8.1.0 Doris settings in flash are re-allocated in such a way that fallback is only "
    "allowed and possible to v7.2.0\"";
constexpr const char* kRule6606 =
    "guide: \"If you've used development versions between 6.6.0.7 and 6.6.0.11 ... Perform a Reset 6 before upgrading "
    "the firmware and, for safe measure, after the upgrade completes\"";
constexpr const char* kRuleOriginal =
    "guide: \"No migration is possible from original Sonoff-MQTT-OTA to Sonoff-MQTT-OTA-Arduino v1.0.11\"";
constexpr const char* kRuleMinimalServer =
    "guide: \"copy the file tasmota-minimal.bin in the same folder where OTAURL for yourbinary.bin is placed, and rename "
    "[it] to yourbinary-minimal.bin\"";
constexpr const char* kRuleOldMinimalUrl =
    "tasmota-facts.md: older releases cut the minimal URL at the last '-' of the whole URL (hence release_6.7.1/)";
constexpr const char* kRuleSafeboot =
    "release notes 13.0.0: \"ESP32 Safeboot partition is now enforced\"; a device on the pre-12 layout (two 1856 KB "
    "slots) must be migrated with the Partition Wizard in its web UI, or serial-flashed";
constexpr const char* kRuleReset6 = "tasmota-facts.md: Reset 6 exists from 6.4.1.18";

const Version kFirstArduino{1, 0, 11, 0};
const Version kGzFrom{8, 2, 0, 0};
const Version kSettings81{8, 1, 0, 0};
const Version kGpio91{9, 1, 0, 0};
const Version kFallback720{7, 2, 0, 0};
const Version kReset6From{6, 4, 1, 18};
const Version kNewMinimalRuleFrom{6, 0, 0, 0};  // inferred: the release notes need underscores only up to 6.7.1's hop
const Version kBroken6607{6, 6, 0, 7};
const Version kBroken6611{6, 6, 0, 11};
const Version kEsp32From{8, 1, 0, 0};
const Version kSafebootLayout{12, 0, 0, 0};
const Version kSafebootEnforced{13, 0, 0, 0};
constexpr int kPreSafebootSlotKb = 1856;

Version release_of(const Version& v) { return Version{v.major, v.minor, v.patch, 0}; }

bool is_minimal_image(const std::string& image) { return image == "tasmota-minimal" || image.ends_with("-minimal"); }

std::string reported_image(const Version& v, const std::string& build) {
  // 5.x reported no build at all: they all ran the classic "sonoff" family.
  if (build.empty()) return v < Version{6, 0, 0, 0} ? "sonoff" : "tasmota";
  return build;
}

}  // namespace

std::string_view to_string(Step s) {
  switch (s) {
    case Step::Backup: return "Backup";
    case Step::Reset6: return "Reset6";
    case Step::OtaUrl: return "OtaUrl";
    case Step::Upgrade: return "Upgrade";
    case Step::AwaitRestart: return "AwaitRestart";
    case Step::VerifyVersion: return "VerifyVersion";
    case Step::HealthCheck: return "HealthCheck";
    case Step::Restore: return "Restore";
    case Step::VerifySettings: return "VerifySettings";
  }
  return "?";
}

std::optional<Step> step_from_string(std::string_view name) {
  for (auto s : {Step::Backup, Step::Reset6, Step::OtaUrl, Step::Upgrade, Step::AwaitRestart, Step::VerifyVersion, Step::HealthCheck,
                 Step::Restore, Step::VerifySettings})
    if (to_string(s) == name) return s;
  return std::nullopt;
}

std::string minimal_url(std::string_view url, bool whole_url_rule) {
  auto slash = url.rfind('/');
  std::string_view file = slash == std::string_view::npos ? url : url.substr(slash + 1);
  auto dot = file.find('.');
  std::string_view ext = dot == std::string_view::npos ? std::string_view{} : file.substr(dot);  // ".bin", ".bin.gz"
  if (whole_url_rule) {
    auto dash = url.rfind('-');
    if (dash != std::string_view::npos) return std::string(url.substr(0, dash)) + "-minimal" + std::string(ext);
  } else {
    auto dash = file.rfind('-');
    if (dash != std::string_view::npos)
      return std::string(url.substr(0, url.size() - file.size())) + std::string(file.substr(0, dash)) + "-minimal" + std::string(ext);
  }
  std::string_view stem = dot == std::string_view::npos ? url : url.substr(0, url.size() - file.size() + dot);
  return std::string(stem) + "-minimal" + std::string(ext);
}

UpgradePlan Planner::plan(const DeviceState& dev, const PlanRequest& req) const {
  UpgradePlan p;
  p.device = dev.name;
  p.from = dev.version;
  p.chip = dev.chip;
  auto fail = [&](std::string why) {
    p.hops.clear();
    p.error = std::move(why);
    return p;
  };
  const bool esp32 = is_esp32_family(dev.chip);
  if (dev.chip == Chip::Unknown) return fail(dev.name + ": chip unknown, cannot choose images");
  if (dev.version < kFirstArduino) return fail(dev.name + " runs " + dev.version.str() + ", the original Sonoff-MQTT-OTA: not migratable over the air (" + kRuleOriginal + ")");
  const Version& latest = catalog_.latest();
  if (release_of(dev.version) > latest)
    return fail(dev.name + " runs " + dev.version.str() + ", newer than the catalog's latest " + latest.str() + ": add the release with --catalog");
  if (esp32 && dev.version < kEsp32From) return fail(dev.name + ": no ESP32 release of Tasmota before 8.x; " + dev.version.str() + " on " + to_string(dev.chip) + " is not a Tasmota the catalog knows");

  p.target = req.target.value_or(latest);
  bool target_is_checkpoint = std::any_of(catalog_.checkpoints().begin(), catalog_.checkpoints().end(),
                                          [&](const auto& c) { return c.version == p.target && !c.entry_only; });
  if (!catalog_.has_release(p.target) && !target_is_checkpoint)
    return fail(dev.name + ": " + p.target.str() + " is not a release in the catalog");

  // What runs now, under today's image names.
  // No build reported (5.x, or a hypothetical device without --build): ESP32 devices run their chip's
  // default image, ESP8266 ones the classic family of their era.
  p.from_build = dev.build.empty() && esp32 ? catalog_.default_build(dev.chip) : reported_image(dev.version, dev.build);
  std::string running_image = catalog_.image_name(p.from_build);
  if (!catalog_.build_exists(dev.chip, running_image)) {
    bool other_family = esp32 ? catalog_.build_exists(Chip::ESP8266, running_image) : running_image.rfind("tasmota32", 0) == 0;
    if (other_family)
      return fail(dev.name + ": reports build '" + running_image + "', an image for another chip than its " + to_string(dev.chip));
    return fail(dev.name + ": unknown build '" + dev.build + "' for " + to_string(dev.chip) + " (add it with --catalog)");
  }
  std::string target_image = req.target_build.empty()
                                 ? (is_minimal_image(running_image) ? catalog_.default_build(dev.chip) : running_image)
                                 : catalog_.image_name(req.target_build);
  if (is_minimal_image(target_image)) return fail(dev.name + ": a minimal build is never a target (" + kRuleNoMinimalTarget + ")");
  if (!catalog_.build_exists(dev.chip, target_image)) {
    if (esp32 != (target_image.rfind("tasmota32", 0) == 0))
      return fail(dev.name + ": image '" + target_image + "' is not for " + to_string(dev.chip));
    return fail(dev.name + ": unknown build '" + target_image + "' for " + to_string(dev.chip));
  }
  p.target_build = target_image;

  // The hops: (version, image, why).
  struct Want {
    Version version;
    std::string image;
    const Checkpoint* checkpoint;
    std::string why;
  };
  std::vector<Want> wants;
  Version at = dev.version;
  if (is_minimal_image(running_image)) {
    std::string full = (dev.version < Version{7, 0, 0, 0}) ? "sonoff" : catalog_.default_build(dev.chip);
    if (release_of(dev.version) == p.target) full = target_image;
    wants.push_back({release_of(dev.version), full, nullptr,
                     "runs a minimal build: first the full build of its own release (" + std::string(kRuleMinimalToFull) + ")"});
    at = release_of(dev.version);
  }
  bool downgrade = p.target < release_of(at);
  if (downgrade) {
    if (at >= kGpio91 && p.target < kGpio91)
      return fail(dev.name + ": refusing " + at.str() + " -> " + p.target.str() + " (" + kRuleGpio91 + ")");
    if (at >= kSettings81 && p.target < kSettings81 && p.target != kFallback720)
      return fail(dev.name + ": refusing " + at.str() + " -> " + p.target.str() + " (" + kRuleSettings81 + ")");
    wants.push_back({p.target, target_image, nullptr,
                     at >= kSettings81 && p.target < kSettings81 ? std::string("the one allowed fallback (") + kRuleSettings81 + ")"
                                                                 : "downgrade within one settings layout"});
    p.notes.push_back("downgrade: settings added after " + p.target.str() + " are dropped; restore from the backup if needed");
  } else {
    for (const auto& cp : catalog_.checkpoints()) {
      if (cp.entry_only || cp.version <= at || cp.version >= p.target) continue;
      if (esp32 && cp.esp32_build.empty()) continue;  // no ESP32 image there (ESP32 support began at 8.x)
      wants.push_back({cp.version, esp32 ? cp.esp32_build : cp.build, &cp, "checkpoint " + cp.version.str() + " (" + kRulePath + ")"});
    }
    const std::string last_image = wants.empty() ? running_image : wants.back().image;
    const Version last_version = wants.empty() ? at : wants.back().version;
    if (p.target != last_version || target_image != last_image) {
      const Checkpoint* cp = nullptr;
      for (const auto& c : catalog_.checkpoints())
        if (c.version == p.target && !c.entry_only) cp = &c;
      wants.push_back({p.target, target_image, cp,
                       p.target == release_of(at) ? "same version, other build: one hop" : "target " + p.target.str()});
    }
  }
  if (wants.empty()) {
    p.notes.push_back(dev.name + " already runs " + p.target.str() + " (" + target_image + "): nothing to do");
    return p;
  }

  // ESP32 partition layouts (docs Safeboot.md: layout introduced in 12; release notes 13.0.0: enforced).
  if (esp32 && p.target >= kSafebootEnforced) {
    bool old_layout = dev.program_flash_kb ? *dev.program_flash_kb == kPreSafebootSlotKb : dev.version < kSafebootLayout;
    if (old_layout)
      return fail(dev.name + ": cannot go to " + p.target.str() + " over the air on the pre-safeboot partition layout (" + kRuleSafeboot + ")");
    if (!dev.program_flash_kb) p.notes.push_back("assumed to use the safeboot partition layout (ProgramFlashSize unknown)");
  }

  // Each hop: URL, .gz or not, minimal step, the steps around it.
  Version running = dev.version;
  std::string image_now = running_image;
  std::optional<int> area = dev.free_kb && dev.program_kb ? std::optional<int>(*dev.free_kb + *dev.program_kb) : std::nullopt;
  for (const auto& w : wants) {
    Hop h;
    h.version = w.version;
    const std::string file_image = esp32 ? w.image : catalog_.era_image(w.image, w.version);
    h.build = file_image;
    h.running = running;
    h.reasons.push_back(w.why);
    bool gz = !esp32 && running >= kGzFrom && w.version >= kGzFrom;
    if (!esp32) h.reasons.push_back(gz ? std::string(".bin.gz: the running ") + running.str() + " is at least 8.2 (" + kRuleGz + ")"
                                       : std::string(".bin: the running ") + running.str() + " is older than 8.2 (" + kRuleGz + ")");
    std::string file = file_image + (gz ? ".bin.gz" : ".bin");
    h.url = catalog_.image_url(catalog_.image_path(w.version, file, esp32));
    if (h.url.rfind("https://", 0) == 0 && !esp32)
      p.notes.push_back("hop " + w.version.str() + ": " + h.url + " is https, which ESP8266 OTA cannot fetch: serve it over http (--ota-base)");
    if (esp32) {
      h.reasons.push_back("ESP32: .bin images, no minimal step (a second OTA slot or the safeboot partition receives the image)");
    } else if (!gz) {
      auto size = catalog_.image_kb(file_image);
      // The device said how much is free now; after a hop it is the program area less the new image.
      std::optional<int> free_now = running == dev.version ? dev.free_kb
                                    : area && catalog_.image_kb(image_now) ? std::optional<int>(*area - *catalog_.image_kb(image_now))
                                                                           : std::nullopt;
      bool fits = size && free_now && *size <= *free_now;
      if (!fits) {
        h.minimal_url = minimal_url(h.url, false);
        h.reasons.push_back(
            (size && free_now ? "needs the minimal intermediate: " + std::to_string(*size) + " KB image, " + std::to_string(*free_now) + " KB free"
                              : std::string("may need the minimal intermediate (free space or image size unknown)")) +
            "; the server must provide " + h.minimal_url.substr(h.minimal_url.rfind('/') + 1) + " beside " + file + " (" + kRuleMinimalServer + ")");
        if (running < kNewMinimalRuleFrom && minimal_url(h.url, true) != h.minimal_url)
          return fail(dev.name + ": hop to " + w.version.str() + " from " + running.str() + " uses " + h.url +
                      ", whose '-' outside the file name breaks the minimal step on that firmware (" + kRuleOldMinimalUrl + ")");
      }
    }
    bool changes_version = w.version != release_of(running) || running != release_of(running);
    bool reset6 = changes_version && running >= kReset6From;
    bool twice = running >= kBroken6607 && running <= kBroken6611;
    h.steps.push_back(Step::Backup);
    if (reset6) h.steps.push_back(Step::Reset6);
    h.steps.insert(h.steps.end(), {Step::OtaUrl, Step::Upgrade, Step::AwaitRestart, Step::VerifyVersion});
    if (twice) {
      h.steps.insert(h.steps.end(), {Step::Reset6, Step::AwaitRestart});
      h.reasons.push_back(std::string("runs ") + running.str() + ": Reset 6 before and after the upgrade, settings restored by commands (" + kRule6606 + ")");
    }
    h.steps.push_back(Step::HealthCheck);
    if (reset6) h.steps.push_back(Step::Restore);
    h.steps.push_back(Step::VerifySettings);
    if (changes_version && running < kReset6From) h.reasons.push_back(std::string("no Reset 6 on ") + running.str() + " (" + kRuleReset6 + ")");
    p.hops.push_back(std::move(h));
    running = w.version;
    image_now = w.image;
  }
  if (esp32 && p.target >= kSafebootLayout)
    p.notes.push_back("ESP32 safeboot layout: Upgrade restarts into safeboot, which downloads the image and boots it");
  return p;
}

}  // namespace fleet::planner
