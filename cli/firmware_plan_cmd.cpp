#include "cli/firmware_plan_cmd.h"

#include "cli/files.h"

#include <fmt/core.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "firmware/downloader.h"
#include "firmware/firmware_store.h"
#include "firmware/plan_check.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_firmware_index.h"

namespace fleet::cli {
namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

using firmware::hop_path;

std::string minimal_build(const std::string& file) { return file.substr(0, file.find('.')); }

struct StoreHandle {
  store::Database db;
  store::SqliteFirmwareIndex index{db};
  firmware::FirmwareStore fw;
  explicit StoreHandle(const FirmwareOptions& o) : db(o.db_path), fw(o.dir, index) { store::migrate(db); }
};

}  // namespace

std::vector<NeededImage> needed_images(const planner::Catalog& catalog, const std::vector<PlannedDevice>& plans) {
  std::vector<NeededImage> out;
  std::set<std::string> seen;
  for (const auto& pd : plans) {
    if (!pd.plan.ok()) continue;
    bool esp32 = planner::is_esp32_family(pd.plan.chip);
    for (const auto& h : pd.plan.hops) {
      std::string path = hop_path(catalog, pd.plan, h, h.url);
      if (seen.insert(path).second) out.push_back({path, h.version.str(), h.build, esp32, true});
      if (!h.minimal_url.empty()) {
        std::string mpath = hop_path(catalog, pd.plan, h, h.minimal_url);
        if (seen.insert(mpath).second) out.push_back({mpath, h.version.str(), minimal_build(h.minimal_url.substr(h.minimal_url.rfind('/') + 1)), esp32, false});
      }
    }
  }
  return out;
}

int firmware_fetch(const FirmwareOptions& o, const planner::Catalog& upstream, const std::vector<PlannedDevice>& plans) {
  StoreHandle s(o);
  auto needed = needed_images(upstream, plans);
  int have = 0, fetched = 0;
  std::vector<std::pair<NeededImage, std::string>> missing;
  for (const auto& n : needed) {
    if (s.fw.resolve(n.path)) {
      ++have;
      continue;
    }
    std::string url = upstream.image_url(n.path);
    std::cout << "fetching " << url << " ... " << std::flush;
    auto d = firmware::download(url, firmware::kMaxImageBytes);
    if (!d.ok) {
      std::cout << "failed: " << d.error << "\n";
      missing.push_back({n, url + ": " + d.error});
      continue;
    }
    firmware::AddRequest req{n.path, n.version, n.build, planner::Chip::Unknown, "fetch " + url, upstream.sha256_of(n.path)};
    auto r = s.fw.add(d.bytes, req, wall_ms());
    if (!r.ok()) {
      std::cout << "refused: " << r.error << "\n";
      missing.push_back({n, url + ": " + r.error});
      continue;
    }
    ++fetched;
    std::cout << fmt::format("{} bytes, sha256 {}{}\n", r.entry->bytes, r.entry->sha256.substr(0, 16),
                             req.expect_sha256 ? " (pinned)" : "");
  }
  int required_missing = 0;
  for (const auto& [n, why] : missing) {
    if (n.required) ++required_missing;
    std::cout << fmt::format("{} {}\n  from {}\n  put it at {}/{}, or: tasmota-fleet firmware add FILE --version {} --build {}\n",
                             n.required ? "MISSING" : "missing (only for the -minimal step)", n.path, why, s.fw.root(), n.path, n.version,
                             n.build);
  }
  std::cout << fmt::format("{} image{} needed: {} already in the store, {} fetched, {} missing ({} required)\n", needed.size(),
                           needed.size() == 1 ? "" : "s", have, fetched, missing.size(), required_missing);
  return required_missing ? 1 : 0;
}

int firmware_check(const FirmwareOptions& o, const planner::Catalog& catalog, const std::vector<PlannedDevice>& plans) {
  StoreHandle s(o);
  int problems = 0;
  for (const auto& pd : plans) {
    const auto& p = pd.plan;
    if (!p.ok()) {
      std::cout << p.device << ": cannot be planned: " << p.error << "\n";
      ++problems;
      continue;
    }
    auto found = firmware::check_plan_images(s.fw, catalog, p, pd.fit);
    problems += static_cast<int>(found.size());
    if (found.empty()) {
      std::cout << fmt::format("{}: ready, {} hop{} with checked images\n", p.device, p.hops.size(), p.hops.size() == 1 ? "" : "s");
    } else {
      for (const auto& f : found) std::cout << p.device << ": " << f << "\n";
    }
  }
  return problems ? 1 : 0;
}

}  // namespace fleet::cli
