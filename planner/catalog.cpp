#include "planner/catalog.h"

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace fleet::planner {

extern const char* const kBuiltinCatalog;  // planner/catalog.json, embedded at build time

namespace {
using nlohmann::json;

Version version_of(const json& j, const std::string& where) {
  if (!j.is_string()) throw CatalogError(where + ": version must be a string");
  auto v = Version::parse(j.get<std::string>());
  if (!v) throw CatalogError(where + ": '" + j.get<std::string>() + "' is not a version");
  return *v;
}

std::vector<std::string> strings(const json& j, const std::string& where) {
  if (!j.is_array()) throw CatalogError(where + " must be an array of strings");
  std::vector<std::string> out;
  for (const auto& e : j) {
    if (!e.is_string()) throw CatalogError(where + " must be an array of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::string text(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) return {};
  if (!it->is_string()) throw CatalogError(where + "." + key + " must be a string");
  return it->get<std::string>();
}
}  // namespace

Catalog Catalog::parse(std::string_view json_text) {
  json root = json::parse(json_text, nullptr, false);
  if (root.is_discarded() || !root.is_object()) throw CatalogError("catalog is not a JSON object");
  Catalog c;
  c.ota_base_ = text(root, "ota_base", "catalog");
  c.github_base_ = text(root, "github_base", "catalog");
  if (auto it = root.find("checkpoints"); it != root.end()) {
    if (!it->is_array()) throw CatalogError("catalog.checkpoints must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& e = (*it)[i];
      std::string where = "checkpoint #" + std::to_string(i + 1);
      if (!e.is_object()) throw CatalogError(where + " must be an object");
      Checkpoint cp;
      cp.version = version_of(e.value("version", json()), where);
      cp.build = text(e, "build", where);
      cp.esp32_build = text(e, "esp32_build", where);
      cp.dir = text(e, "dir", where);
      cp.github = text(e, "github", where);
      if (auto eo = e.find("entry_only"); eo != e.end()) {
        if (!eo->is_boolean()) throw CatalogError(where + ".entry_only must be true or false");
        cp.entry_only = eo->get<bool>();
      }
      if (!cp.entry_only && cp.dir.empty() == cp.github.empty())
        throw CatalogError(where + " needs exactly one of dir (OTA server) or github");
      c.checkpoints_.push_back(cp);
    }
  }
  if (auto it = root.find("releases"); it != root.end()) {
    for (const auto& s : strings(*it, "catalog.releases")) c.releases_.push_back(version_of(s, "release " + s));
  }
  if (auto it = root.find("esp8266_builds"); it != root.end()) c.esp8266_builds_ = strings(*it, "catalog.esp8266_builds");
  if (auto it = root.find("esp32_builds"); it != root.end()) {
    if (!it->is_object()) throw CatalogError("catalog.esp32_builds must map chip names to builds");
    for (const auto& [chip, list] : it->items()) {
      if (parse_chip(chip) == Chip::Unknown) throw CatalogError("catalog.esp32_builds: unknown chip '" + chip + "'");
      c.esp32_builds_[to_string(parse_chip(chip))] = strings(list, "catalog.esp32_builds." + chip);
    }
  }
  if (auto it = root.find("build_aliases"); it != root.end()) {
    if (!it->is_object()) throw CatalogError("catalog.build_aliases must be an object");
    for (const auto& [from, to] : it->items()) {
      if (!to.is_string()) throw CatalogError("catalog.build_aliases." + from + " must be a string");
      c.aliases_[from] = to.get<std::string>();
    }
  }
  if (auto it = root.find("image_kb"); it != root.end()) {
    if (!it->is_object()) throw CatalogError("catalog.image_kb must be an object");
    for (const auto& [image, kb] : it->items()) {
      // Read as 64 bits: get<int>() would take 4294967297 for 1. No image is larger than a 16 MB flash.
      if (!kb.is_number_integer() || kb.get<std::int64_t>() <= 0 || kb.get<std::int64_t>() > 16 * 1024)
        throw CatalogError("catalog.image_kb." + image + " must be a positive integer of KB, at most 16384");
      c.image_kb_[image] = static_cast<int>(kb.get<std::int64_t>());
    }
  }
  if (auto it = root.find("sha256"); it != root.end()) {
    if (!it->is_object()) throw CatalogError("catalog.sha256 must map image paths to SHA-256 hex digests");
    for (const auto& [path, hex] : it->items()) {
      bool ok = hex.is_string() && hex.get<std::string>().size() == 64 &&
                hex.get<std::string>().find_first_not_of("0123456789abcdef") == std::string::npos;
      if (!ok) throw CatalogError("catalog.sha256." + path + " must be 64 lower-case hex digits");
      c.sha256_[path] = hex.get<std::string>();
    }
  }
  if (auto it = root.find("eras"); it != root.end()) {
    if (!it->is_array()) throw CatalogError("catalog.eras must be an array");
    for (const auto& e : *it) {
      if (!e.is_object()) throw CatalogError("catalog.eras entries must be objects");
      Era era;
      era.before = version_of(e.value("before", json()), "catalog.eras");
      era.all = text(e, "all", "catalog.eras");
      if (auto pf = e.find("prefix"); pf != e.end()) {
        auto pair = strings(*pf, "catalog.eras.prefix");
        if (pair.size() != 2) throw CatalogError("catalog.eras.prefix must be [from, to]");
        era.prefix_from = pair[0];
        era.prefix_to = pair[1];
      }
      if (auto rn = e.find("rename"); rn != e.end()) {
        if (!rn->is_object()) throw CatalogError("catalog.eras.rename must be an object");
        for (const auto& [k, v] : rn->items()) {
          if (!v.is_string()) throw CatalogError("catalog.eras.rename." + k + " must be a string");
          era.rename[k] = v.get<std::string>();
        }
      }
      c.eras_.push_back(era);
    }
    std::sort(c.eras_.begin(), c.eras_.end(), [](const Era& a, const Era& b) { return a.before < b.before; });
  }
  std::sort(c.releases_.begin(), c.releases_.end());
  c.releases_.erase(std::unique(c.releases_.begin(), c.releases_.end()), c.releases_.end());
  std::sort(c.checkpoints_.begin(), c.checkpoints_.end(), [](const auto& a, const auto& b) { return a.version < b.version; });
  // Twice the same checkpoint would be two hops to one version (merge() keeps one of them, silently).
  auto twice = std::adjacent_find(c.checkpoints_.begin(), c.checkpoints_.end(),
                                  [](const auto& a, const auto& b) { return a.version == b.version; });
  if (twice != c.checkpoints_.end()) throw CatalogError("catalog.checkpoints lists " + twice->version.str() + " twice");
  return c;
}

const Catalog& Catalog::builtin() {
  static const Catalog c = [] {
    Catalog cat = parse(kBuiltinCatalog);
    if (cat.releases_.empty() || cat.checkpoints_.empty()) throw CatalogError("built-in catalog is empty");
    return cat;
  }();
  return c;
}

void Catalog::merge(const Catalog& o) {
  if (!o.ota_base_.empty()) ota_base_ = o.ota_base_;
  if (!o.github_base_.empty()) github_base_ = o.github_base_;
  for (const auto& cp : o.checkpoints_) {
    auto it = std::find_if(checkpoints_.begin(), checkpoints_.end(), [&](const auto& c) { return c.version == cp.version; });
    if (it != checkpoints_.end()) *it = cp;
    else checkpoints_.push_back(cp);
  }
  std::sort(checkpoints_.begin(), checkpoints_.end(), [](const auto& a, const auto& b) { return a.version < b.version; });
  releases_.insert(releases_.end(), o.releases_.begin(), o.releases_.end());
  std::sort(releases_.begin(), releases_.end());
  releases_.erase(std::unique(releases_.begin(), releases_.end()), releases_.end());
  for (const auto& b : o.esp8266_builds_)
    if (std::find(esp8266_builds_.begin(), esp8266_builds_.end(), b) == esp8266_builds_.end()) esp8266_builds_.push_back(b);
  for (const auto& [chip, list] : o.esp32_builds_)
    for (const auto& b : list)
      if (std::find(esp32_builds_[chip].begin(), esp32_builds_[chip].end(), b) == esp32_builds_[chip].end())
        esp32_builds_[chip].push_back(b);
  for (const auto& [k, v] : o.aliases_) aliases_[k] = v;
  for (const auto& [k, v] : o.image_kb_) image_kb_[k] = v;
  for (const auto& [k, v] : o.sha256_) sha256_[k] = v;
  if (!o.eras_.empty()) eras_ = o.eras_;
}

std::string Catalog::era_image(const std::string& image, const Version& release) const {
  for (const auto& era : eras_) {
    if (release >= era.before) continue;
    if (!era.all.empty()) return era.all;
    if (auto it = era.rename.find(image); it != era.rename.end()) return it->second;
    if (!era.prefix_from.empty() && image.rfind(era.prefix_from, 0) == 0 && image.rfind("tasmota32", 0) != 0)
      return era.prefix_to + image.substr(era.prefix_from.size());
    return image;
  }
  return image;
}

std::optional<int> Catalog::image_kb(const std::string& image) const {
  auto it = image_kb_.find(image);
  return it == image_kb_.end() ? std::nullopt : std::optional<int>(it->second);
}

const Version& Catalog::latest() const {
  if (releases_.empty()) throw CatalogError("catalog lists no releases");
  return releases_.back();
}

bool Catalog::has_release(const Version& v) const { return std::binary_search(releases_.begin(), releases_.end(), v); }

std::string Catalog::image_name(const std::string& build) const {
  auto it = aliases_.find(build);
  return it == aliases_.end() ? build : it->second;
}

bool Catalog::build_exists(Chip chip, const std::string& image) const {
  if (is_esp8266_family(chip)) return std::find(esp8266_builds_.begin(), esp8266_builds_.end(), image) != esp8266_builds_.end();
  auto it = esp32_builds_.find(to_string(chip));
  return it != esp32_builds_.end() && std::find(it->second.begin(), it->second.end(), image) != it->second.end();
}

std::string Catalog::default_build(Chip chip) const {
  if (is_esp8266_family(chip)) return "tasmota";
  auto it = esp32_builds_.find(to_string(chip));
  return it == esp32_builds_.end() || it->second.empty() ? "tasmota32" : it->second.front();
}

void Catalog::set_ota_base(std::string base) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  ota_base_ = std::move(base);
}

std::string Catalog::image_path(const Version& release, const std::string& file, bool esp32) const {
  for (const auto& cp : checkpoints_) {
    if (cp.entry_only || cp.version != release) continue;
    if (!cp.github.empty()) return "github/" + cp.github;
    if (!cp.dir.empty()) return std::string(esp32 ? "tasmota32/" : "tasmota/") + cp.dir + "/" + file;
  }
  return std::string(esp32 ? "tasmota32/" : "tasmota/") + "release-" + release.str() + "/" + file;
}

std::optional<std::string> Catalog::sha256_of(const std::string& path) const {
  auto it = sha256_.find(path);
  if (it == sha256_.end()) return std::nullopt;
  return it->second;
}

bool Catalog::official_base() const { return ota_base_ == "http://ota.tasmota.com"; }

std::string Catalog::image_url(const std::string& path) const {
  if (path.rfind("github/", 0) == 0 && official_base()) return github_base_ + "/" + path.substr(7);
  return ota_base_ + "/" + path;
}

}  // namespace fleet::planner
