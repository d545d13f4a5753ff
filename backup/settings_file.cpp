#include "backup/settings_file.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "backup/settings_layouts.h"
#include "backup/settings_migration.h"

namespace fleet::backup {
namespace {

using nlohmann::ordered_json;

// decode-config writes numbers of some fields as "0x…" text ("version": "0xf000100").
std::optional<std::uint64_t> number(const ordered_json& j) {
  if (j.is_number_unsigned()) return j.get<std::uint64_t>();
  if (j.is_number_integer() && j.get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(j.get<std::int64_t>());
  if (!j.is_string()) return std::nullopt;
  auto s = j.get<std::string>();
  if (s.rfind("0x", 0) != 0 || s.size() < 3) return std::nullopt;
  char* end = nullptr;
  auto v = std::strtoull(s.c_str() + 2, &end, 16);
  return end && *end == 0 ? std::optional(v) : std::nullopt;
}

// `backup export` shows secrets as asterisks unless asked: such a value is no password to restore.
constexpr const char* kMasked = "********";

void drop_masked(ordered_json& j, const std::string& path, std::vector<std::string>& dropped) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end();) {
      if (it->is_string() && *it == kMasked) {
        dropped.push_back(path + it.key());
        it = j.erase(it);
      } else {
        drop_masked(*it, path + it.key() + "/", dropped);
        ++it;
      }
    }
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i)
      if (j[i].is_string() && j[i] == kMasked) {
        dropped.push_back(path + std::to_string(i));
        j[i] = nullptr;  // left as the blank file has it
      } else {
        drop_masked(j[i], path + std::to_string(i) + "/", dropped);
      }
  }
}

Result<SettingsFile> from_json(std::span<const std::uint8_t> bytes) {
  ordered_json j;
  try {
    j = ordered_json::parse(bytes.begin(), bytes.end());
  } catch (const std::exception& e) {
    return fail(fmt::format("not a settings file: JSON that does not parse ({})", e.what()));
  }
  if (!j.is_object()) return fail("not a settings file: JSON, but no object");
  auto id = j.contains("version") ? number(j["version"]) : std::nullopt;
  if (!id || *id > 0xFFFFFFFFu) return fail("a JSON settings file without its Tasmota version (field \"version\", e.g. \"0xf000100\")");
  std::uint8_t platform = 0;
  if (j.contains("config_version")) {
    auto p = number(j["config_version"]);
    if (!p || *p > 255) return fail("config_version (the platform) is no number");
    platform = static_cast<std::uint8_t>(*p);
  }
  auto v = static_cast<std::uint32_t>(*id);
  planner::Version version{int(v >> 24), int((v >> 16) & 0xFF), int((v >> 8) & 0xFF), int(v & 0xFF)};
  if (!settings_size_for(v)) return fail(fmt::format("settings of Tasmota {} (before 6.0) are not read here", version.str()));
  SettingsFile out;
  out.kind = "json";
  std::vector<std::string> masked;
  drop_masked(j, "", masked);
  if (!masked.empty())
    out.notes.push_back(fmt::format("{} secret value(s) were masked in the file and are not in it: {} (export with --with-secrets)",
                                    masked.size(), fmt::join(masked, ", ")));
  auto& layouts = SettingsLayouts::builtin();
  DmpFile f = blank_settings(version, platform, layouts);
  auto errors = layouts.encode(f, j);
  if (!errors.empty())
    return fail(fmt::format("{} value(s) do not fit Tasmota {}'s layout: {}", errors.size(), version.str(), fmt::join(errors, "; ")));
  f.seal();
  auto read = read_dmp(f.bytes());  // the same checks as any file: a platform byte Tasmota does not know, …
  if (!read.file) return fail(read.error);
  out.file = std::move(*read.file);
  return out;
}

}  // namespace

Result<SettingsFile> read_settings_file(std::span<const std::uint8_t> bytes) {
  std::size_t i = 0;
  while (i < bytes.size() && (bytes[i] == ' ' || bytes[i] == '\n' || bytes[i] == '\r' || bytes[i] == '\t')) ++i;
  if (i < bytes.size() && bytes[i] == '{') return from_json(bytes.subspan(i));
  auto read = read_dmp(bytes);
  if (!read.file) return fail(read.error);
  return SettingsFile{std::move(*read.file), "dmp", {}};
}

}  // namespace fleet::backup
