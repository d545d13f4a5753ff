#include "orchestrator/rollout_spec.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "core/utf8_prefix.h"
#include "inventory/payloads.h"
#include "planner/chip.h"
#include "planner/version.h"

namespace fleet::orchestrator {
namespace {

using nlohmann::json;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) { return lower(a) == lower(b); }

// Quotes what the user gave in an error; a hostile megabyte of text is cut short.
std::string quote(std::string_view text) {
  constexpr std::size_t kMax = 40;
  if (text.size() <= kMax) return fmt::format("'{}'", text);
  return fmt::format("'{}…'", core::utf8_prefix(text, kMax));
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

// x rounded up to a whole number, but a product that should have been whole and came out a hair above
// it in floating point is not rounded up: 8.8% of 375 is 33 (computed: 33.00000000000001), not 34.
double ceil_whole(double x) {
  double nearest = std::round(x);
  if (std::abs(x - nearest) <= 1e-9 * std::max(1.0, std::abs(x))) return nearest;
  return std::ceil(x);
}

// Digits with at most one '.', nothing else ("+5", "1e3", "inf", " 5" are not numbers here).
bool is_decimal(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  int dots = 0;
  for (char c : s) {
    if (c == '.') ++dots;
    else if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return dots <= 1;
}

// Waves are cumulative: a share after a larger one is a typing error. Counts and shares mixed can only
// be ordered once the number of devices is known.
std::optional<std::string> check_waves(const std::vector<Amount>& waves) {
  if (waves.empty()) return "empty: give shares like '10%,50%,100%'";
  if (waves.size() > kMaxWaves) return fmt::format("more than {} waves", kMaxWaves);
  bool same_kind = std::all_of(waves.begin(), waves.end(), [&](const Amount& a) { return a.percent == waves.front().percent; });
  if (!same_kind) return std::nullopt;
  for (std::size_t i = 1; i < waves.size(); ++i)
    if (waves[i].value < waves[i - 1].value)
      return fmt::format("'{}' after '{}': waves are cumulative and must not decrease", waves[i].str(), waves[i - 1].str());
  return std::nullopt;
}

const char* const kFields[] = {"version", "build", "chip", "module"};
const char* const kOps[] = {"<", "<=", "=", "!=", ">=", ">"};

// A device's build as the image name without "tasmota-": Tasmota reports "lite" and "sensors" for the
// images tasmota-lite and tasmota-sensors, and users type either.
std::string build_key(std::string_view build) {
  std::string b = lower(trim(build));
  constexpr std::string_view kPrefix = "tasmota-";
  if (b.size() > kPrefix.size() && b.starts_with(kPrefix)) b.erase(0, kPrefix.size());
  return b;
}

std::optional<std::string> known(const inventory::Str& field) {
  if (!field || trim(*field).empty()) return std::nullopt;
  return field;
}

std::optional<planner::Version> device_version(const inventory::DeviceRecord& d) {
  if (auto v = known(d.version)) return planner::Version::parse(*v);
  if (auto fw = known(d.firmware))
    if (auto parsed = planner::FirmwareVersion::parse(*fw)) return parsed->version;
  return std::nullopt;
}

std::optional<int> parse_clock(std::string_view text, bool end) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || text.size() != colon + 3) return std::nullopt;
  for (char c : text)
    if (c != ':' && !std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  int h = 0, m = 0;
  std::from_chars(text.data(), text.data() + colon, h);
  std::from_chars(text.data() + colon + 1, text.data() + text.size(), m);
  if (end && h == 24 && m == 0) return 24 * 60;
  if (h > 23 || m > 59) return std::nullopt;
  return h * 60 + m;
}

std::string what(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "true/false";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::number_float: return fmt::format("{}", v.get<double>());
    default: return "a number";
  }
}

// How deep v nests, counted without recursion (a hostile document may nest 100000 levels; copying or
// comparing it would recurse that deep), stopping once past limit.
std::size_t depth(const json& v, std::size_t limit) {
  std::vector<std::pair<const json*, std::size_t>> todo{{&v, 1}};
  std::size_t deepest = 0;
  while (!todo.empty()) {
    auto [at, d] = todo.back();
    todo.pop_back();
    deepest = std::max(deepest, d);
    if (deepest > limit) break;
    if (at->is_structured())
      for (const auto& child : *at) todo.emplace_back(&child, d + 1);
  }
  return deepest;
}

// A JSON whole number in [min, max]; unsigned values above int64 and floats (1e300) are refused, not cast.
Result<std::int64_t> whole(const json& v, std::int64_t min, std::int64_t max) {
  if (v.is_number_unsigned()) {
    auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(max)) return fail(fmt::format("must be at most {}", max));
    if (static_cast<std::int64_t>(u) < min) return fail(fmt::format("must be at least {}", min));
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) {
    auto i = v.get<std::int64_t>();
    if (i < min) return fail(fmt::format("must be at least {}", min));
    if (i > max) return fail(fmt::format("must be at most {}", max));
    return i;
  }
  return fail("must be a whole number, not " + what(v));
}

// A count (JSON number) or a text ("3", "10%").
Result<Amount> amount_of(const json& v) {
  if (v.is_string()) return Amount::parse(v.get<std::string>());
  if (v.is_number_integer() || v.is_number_unsigned()) {
    auto n = whole(v, 0, static_cast<std::int64_t>(kMaxCount));
    if (!n) return fail(n.error());
    return Amount{false, static_cast<double>(*n)};
  }
  return fail("must be a count or a share like '10%', not " + what(v));
}

}  // namespace

// --- Amount -------------------------------------------------------------------------------------

Result<Amount> Amount::parse(std::string_view text) {
  std::string_view t = trim(text);
  if (t.empty()) return fail("empty: give a count like '3' or a share like '10%'");
  bool percent = t.back() == '%';
  std::string_view number = percent ? t.substr(0, t.size() - 1) : t;
  if (!number.empty() && number.front() == '-' && is_decimal(number.substr(1))) return fail(quote(t) + " is negative");
  if (!is_decimal(number)) return fail(quote(t) + " is not a count like '3' or a share like '10%'");
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec == std::errc::result_out_of_range) value = std::numeric_limits<double>::infinity();  // refused below as too large
  else if (ec != std::errc{} || end != number.data() + number.size()) return fail(quote(t) + " is not a number");
  if (percent) {
    if (value > 100) return fail(quote(t) + " is more than 100%");
    // More would not survive str() and parse() unchanged, and no fleet needs it.
    if (auto dot = number.find('.'); dot != std::string_view::npos && number.size() - dot - 1 > 3)
      return fail(quote(t) + " has more than 3 decimals");
  } else {
    if (number.find('.') != std::string_view::npos) return fail(quote(t) + " is not a whole number (a share needs '%')");
    if (value > static_cast<double>(kMaxCount)) return fail(fmt::format("{} is more than {}", quote(t), kMaxCount));
  }
  return Amount{percent, value};
}

std::size_t Amount::of(std::size_t total) const {
  // Compared as doubles first: an Amount built by hand may hold what no cast to size_t survives (-1, 1e300, NaN).
  double n = percent ? ceil_whole(static_cast<double>(total) * value / 100.0) : value;
  if (!(n > 0)) return 0;
  if (n >= static_cast<double>(total)) return total;
  return static_cast<std::size_t>(n);
}

std::string Amount::str() const {
  if (percent) return fmt::format("{}%", value);
  return fmt::format("{}", static_cast<std::size_t>(value));
}

Result<std::vector<Amount>> parse_waves(std::string_view text) {
  std::string_view all = trim(text);
  if (all.empty()) return fail("waves: empty: give shares like '10%,50%,100%'");
  std::vector<Amount> waves;
  std::size_t start = 0;
  while (true) {
    auto comma = all.find(',', start);
    std::string_view part = trim(all.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (part.empty()) return fail("waves: an empty wave in " + quote(all));
    auto a = Amount::parse(part);
    if (!a) return fail("waves: " + a.error());
    waves.push_back(*a);
    if (waves.size() > kMaxWaves) return fail(fmt::format("waves: more than {} waves", kMaxWaves));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (auto bad = check_waves(waves)) return fail("waves: " + *bad);
  return waves;
}

// --- DeviceFilter -------------------------------------------------------------------------------

Result<DeviceFilter> DeviceFilter::parse(std::string_view text) {
  std::string_view t = trim(text);
  if (t.empty()) return fail("empty filter: give one like 'version<9.1'");
  auto op_at = t.find_first_of("<>=!");
  if (op_at == std::string_view::npos) return fail(quote(t) + " has no operator (<, <=, =, !=, >=, >)");
  auto value_at = t.find_first_not_of("<>=!", op_at);
  DeviceFilter f;
  f.field = lower(trim(t.substr(0, op_at)));
  f.op = std::string(t.substr(op_at, value_at == std::string_view::npos ? std::string_view::npos : value_at - op_at));
  f.value = value_at == std::string_view::npos ? "" : std::string(trim(t.substr(value_at)));
  if (f.field.empty()) return fail(quote(t) + " names no field (version, build, chip, module)");
  if (std::find(std::begin(kFields), std::end(kFields), f.field) == std::end(kFields))
    return fail(fmt::format("unknown field {} in {} (version, build, chip, module)", quote(f.field), quote(t)));
  if (std::find(std::begin(kOps), std::end(kOps), f.op) == std::end(kOps))
    return fail(fmt::format("unknown operator {} in {} (<, <=, =, !=, >=, >)", quote(f.op), quote(t)));
  if (f.value.empty()) return fail(quote(t) + " has no value");
  if (f.field != "version" && f.op != "=" && f.op != "!=")
    return fail(fmt::format("{}: {} compares only with = or !=", quote(t), f.field));
  if (f.field == "version" && !planner::Version::parse(f.value))
    return fail(fmt::format("{} in {} is not a version", quote(f.value), quote(t)));
  if (f.field == "chip" && planner::parse_chip(f.value) == planner::Chip::Unknown)
    return fail(fmt::format("unknown chip {} in {}", quote(f.value), quote(t)));
  return f;
}

bool DeviceFilter::matches(const inventory::DeviceRecord& d) const {
  if (field == "version") {
    auto have = device_version(d);
    auto want = planner::Version::parse(value);
    if (!have || !want) return false;
    if (op == "<") return *have < *want;
    if (op == "<=") return *have <= *want;
    if (op == "=") return *have == *want;
    if (op == "!=") return *have != *want;
    if (op == ">=") return *have >= *want;
    if (op == ">") return *have > *want;
    return false;
  }
  std::optional<bool> equal;
  if (field == "build") {
    if (auto b = known(d.build)) equal = build_key(*b) == build_key(value);
  } else if (field == "chip") {
    if (auto c = known(d.chip)) {
      auto chip = planner::parse_chip(*c);
      if (chip != planner::Chip::Unknown) equal = chip == planner::parse_chip(value);
    }
  } else if (field == "module") {
    if (auto m = known(d.module)) equal = iequals(trim(*m), value);
  }
  if (!equal) return false;
  return op == "=" ? *equal : op == "!=" ? !*equal : false;
}

std::string DeviceFilter::str() const { return field + op + value; }

// --- TimeWindow ---------------------------------------------------------------------------------

Result<TimeWindow> TimeWindow::parse(std::string_view text) {
  std::string_view t = trim(text);
  auto dash = t.find('-');
  if (dash == std::string_view::npos) return fail(quote(t) + " is not a window like '01:00-05:00'");
  std::string_view from = trim(t.substr(0, dash)), to = trim(t.substr(dash + 1));
  auto start = parse_clock(from, false);
  if (!start) return fail(fmt::format("{} in {} is not a time of day (00:00..23:59)", quote(from), quote(t)));
  auto end = parse_clock(to, true);
  if (!end) return fail(fmt::format("{} in {} is not a time of day (00:00..24:00)", quote(to), quote(t)));
  if (*start == *end) return fail(quote(t) + " starts where it ends");
  return TimeWindow{*start, *end};
}

bool TimeWindow::contains(int minute_of_day) const {
  int m = ((minute_of_day % 1440) + 1440) % 1440;
  if (start_minute < end_minute) return m >= start_minute && m < end_minute;
  return m >= start_minute || m < end_minute;  // wraps midnight
}

std::string TimeWindow::str() const {
  return fmt::format("{:02}:{:02}-{:02}:{:02}", start_minute / 60, start_minute % 60, end_minute / 60, end_minute % 60);
}

// --- RolloutSpec --------------------------------------------------------------------------------

json RolloutSpec::to_json() const {
  json filters = json::array(), shares = json::array();
  for (const auto& f : where) filters.push_back(f.str());
  for (const auto& w : waves) shares.push_back(w.str());
  return {{"name", name},
          {"target", target},
          {"target_build", target_build},
          {"all", all},
          {"devices", devices},
          {"where", filters},
          {"canary", canary.str()},
          {"waves", shares},
          {"max_parallel", max_parallel},
          {"max_per_minute", max_per_minute},
          {"error_threshold", error_threshold ? json(error_threshold->str()) : json(nullptr)},
          {"error_min_executed", error_min_executed},
          {"success_threshold", success_threshold.str()},
          {"offline_timeout_s", offline_timeout_s},
          {"health_window_s", health_window_s},
          {"restart_timeout_s", restart_timeout_s},
          {"upgrade_timeout_s", upgrade_timeout_s},
          {"mode", mode},
          {"window", window ? json(window->str()) : json(nullptr)},
          {"skip_powered", skip_powered},
          {"min_rssi", min_rssi ? json(*min_rssi) : json(nullptr)},
          {"access", access}};
}

Result<RolloutSpec> RolloutSpec::from_json(const json& j) {
  if (!j.is_object()) return fail("a rollout spec must be a JSON object, not " + what(j));
  static const std::set<std::string, std::less<>> kKeys = {
      "name", "target", "target_build", "all", "devices", "where", "canary", "waves", "max_parallel", "max_per_minute",
      "error_threshold", "error_min_executed", "success_threshold", "offline_timeout_s", "health_window_s", "restart_timeout_s", "upgrade_timeout_s", "mode",
      "window", "skip_powered", "min_rssi", "access"};
  RolloutSpec s;
  std::vector<std::string> errors;
  auto error = [&](const std::string& key, const std::string& why) { errors.push_back(key + ": " + why); };
  for (const auto& [key, _] : j.items())
    if (!kKeys.contains(key)) errors.push_back("unknown key " + quote(key));

  auto text = [&](const char* key, std::string& out) {
    if (!j.contains(key)) return false;
    const json& v = j.at(key);
    if (!v.is_string()) {
      error(key, "must be a string, not " + what(v));
      return false;
    }
    out = v.get<std::string>();
    return true;
  };
  auto flag = [&](const char* key, bool& out) {
    if (!j.contains(key)) return;
    const json& v = j.at(key);
    if (!v.is_boolean()) return error(key, "must be true or false, not " + what(v));
    out = v.get<bool>();
  };
  auto number = [&](const char* key, std::int64_t min, std::int64_t max, auto& out) {
    if (!j.contains(key)) return;
    auto n = whole(j.at(key), min, max);
    if (!n) return error(key, n.error());
    out = static_cast<std::remove_reference_t<decltype(out)>>(*n);
  };
  auto amount = [&](const char* key, Amount& out) {
    if (!j.contains(key)) return;
    auto a = amount_of(j.at(key));
    if (!a) return error(key, a.error());
    out = *a;
  };

  text("name", s.name);
  if (s.name.size() > 200) error("name", "longer than 200 characters");
  if (text("target", s.target) && s.target != "latest" && !planner::Version::parse(s.target))
    error("target", quote(s.target) + " is not a version or 'latest'");
  if (text("target_build", s.target_build)) {
    bool fine = s.target_build.size() <= 64 && std::all_of(s.target_build.begin(), s.target_build.end(), [](char c) {
                  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
                });
    if (!fine) error("target_build", quote(s.target_build) + " is not a build name like 'tasmota-sensors'");
  }

  // The selection.
  bool selection_bad = false;
  flag("all", s.all);
  selection_bad = selection_bad || (j.contains("all") && !j.at("all").is_boolean());
  if (j.contains("devices")) {
    const json& v = j.at("devices");
    if (v.is_string() && v.get<std::string>() == "all") {
      if (j.contains("all") && j.at("all") == false) {
        error("devices", "\"all\" contradicts all: false");
        selection_bad = true;
      }
      s.all = true;
    } else if (v.is_array()) {
      bool fine = v.size() <= kMaxCount;
      if (!fine) error("devices", fmt::format("more than {} names", kMaxCount));
      for (std::size_t i = 0; i < v.size() && fine; ++i) {
        std::string at = fmt::format("devices[{}]", i);
        if (!v[i].is_string()) {
          error(at, "must be a MAC, topic or hostname, not " + what(v[i]));
          fine = false;
        } else if (auto name = trim(v[i].get_ref<const std::string&>()); name.empty()) {
          error(at, "empty name");
          fine = false;
        } else {
          s.devices.emplace_back(name);
        }
      }
      if (!fine) s.devices.clear();
      selection_bad = selection_bad || !fine;
    } else {
      error("devices", "must be \"all\" or an array of MACs, topics or hostnames, not " +
                           (v.is_string() ? quote(v.get_ref<const std::string&>()) : what(v)));
      selection_bad = true;
    }
  }
  if (j.contains("where")) {
    const json& v = j.at("where");
    if (!v.is_array()) {
      error("where", "must be an array of filters like \"version<9.1\", not " + what(v));
      selection_bad = true;
    } else {
      for (std::size_t i = 0; i < v.size(); ++i) {
        std::string at = fmt::format("where[{}]", i);
        if (!v[i].is_string()) {
          error(at, "must be a filter like \"version<9.1\", not " + what(v[i]));
          selection_bad = true;
        } else if (auto f = DeviceFilter::parse(v[i].get_ref<const std::string&>()); !f) {
          error(at, f.error());
          selection_bad = true;
        } else {
          s.where.push_back(*f);
        }
        if (errors.size() > 20) break;
      }
    }
  }
  if (s.all && !s.devices.empty()) error("devices", "give all or devices, not both");
  else if (!selection_bad && !s.all && s.devices.empty() && s.where.empty())
    errors.push_back("no devices selected: give all, devices or where");

  // The groups.
  amount("canary", s.canary);
  if (j.contains("waves")) {
    const json& v = j.at("waves");
    if (v.is_string()) {
      auto w = parse_waves(v.get_ref<const std::string&>());
      if (!w) errors.push_back(w.error());
      else s.waves = *w;
    } else if (v.is_array()) {
      std::vector<Amount> waves;
      bool fine = v.size() <= kMaxWaves;
      if (!fine) error("waves", fmt::format("more than {} waves", kMaxWaves));
      for (std::size_t i = 0; i < v.size() && fine; ++i) {
        auto a = amount_of(v[i]);
        if (!a) {
          error(fmt::format("waves[{}]", i), a.error());
          fine = false;
        } else {
          waves.push_back(*a);
        }
      }
      if (fine) {
        if (auto bad = check_waves(waves)) error("waves", *bad);
        else s.waves = std::move(waves);
      }
    } else {
      error("waves", "must be an array of shares or a text like \"10%,50%,100%\", not " + what(v));
    }
  }

  // Pace and conditions.
  number("max_parallel", 1, 10'000, s.max_parallel);
  if (j.contains("max_per_minute")) {
    const json& v = j.at("max_per_minute");
    if (!v.is_number()) error("max_per_minute", "must be a number, not " + what(v));
    else if (double d = v.get<double>(); !std::isfinite(d) || d < 0 || d > 60'000)
      error("max_per_minute", "must be between 0 (no limit) and 60000");
    else s.max_per_minute = d;
  }
  if (j.contains("error_threshold") && !j.at("error_threshold").is_null()) {
    auto a = amount_of(j.at("error_threshold"));
    if (!a) error("error_threshold", a.error());
    else s.error_threshold = *a;
  }
  number("error_min_executed", 0, static_cast<std::int64_t>(kMaxCount), s.error_min_executed);
  amount("success_threshold", s.success_threshold);
  number("offline_timeout_s", 0, 7 * 86'400, s.offline_timeout_s);
  number("health_window_s", 0, 86'400, s.health_window_s);
  number("restart_timeout_s", 1, 86'400, s.restart_timeout_s);
  number("upgrade_timeout_s", 1, 86'400, s.upgrade_timeout_s);

  // How each device is upgraded.
  if (text("mode", s.mode) && s.mode != "clean" && s.mode != "in-place") error("mode", quote(s.mode) + " is not clean or in-place");
  if (j.contains("window") && !j.at("window").is_null()) {
    const json& v = j.at("window");
    if (!v.is_string()) error("window", "must be a text like \"01:00-05:00\", not " + what(v));
    else if (auto w = TimeWindow::parse(v.get_ref<const std::string&>()); !w) error("window", w.error());
    else s.window = *w;
  }
  flag("skip_powered", s.skip_powered);
  if (j.contains("min_rssi") && !j.at("min_rssi").is_null()) {
    int rssi = 0;
    std::size_t before = errors.size();
    number("min_rssi", 0, 100, rssi);
    if (errors.size() == before) s.min_rssi = rssi;
  }
  if (j.contains("access")) {
    const json& v = j.at("access");
    constexpr std::size_t kMaxAccessDepth = 8;  // access options are a flat object or close to it
    if (!v.is_object() && !v.is_null()) error("access", "must be an object or null, not " + what(v));
    else if (depth(v, kMaxAccessDepth) > kMaxAccessDepth) error("access", fmt::format("nested deeper than {} levels", kMaxAccessDepth));
    else s.access = v;
  }

  if (!errors.empty()) {
    constexpr std::size_t kMaxErrors = 10;
    std::size_t more = errors.size() > kMaxErrors ? errors.size() - kMaxErrors : 0;
    errors.resize(std::min(errors.size(), kMaxErrors));
    if (more) errors.push_back(fmt::format("and {} more", more));
    return fail(join(errors));
  }
  return s;
}

// --- Selection and groups -----------------------------------------------------------------------

Result<std::vector<inventory::DeviceRecord>> select_devices(const std::vector<inventory::DeviceRecord>& inventory,
                                                            const RolloutSpec& spec) {
  std::vector<const inventory::DeviceRecord*> chosen;
  if (!spec.devices.empty()) {
    std::vector<std::string> errors;
    for (const auto& raw : spec.devices) {
      std::string_view name = trim(raw);
      std::string mac = inventory::normalize_mac(name);
      std::vector<const inventory::DeviceRecord*> hits;
      for (const auto& d : inventory) {
        bool hit = (!mac.empty() && d.mac == mac) || (d.topic && *d.topic == name) || (d.hostname && iequals(*d.hostname, name));
        if (hit) hits.push_back(&d);
      }
      if (hits.empty()) {
        errors.push_back("unknown device " + quote(name));
      } else if (hits.size() > 1) {
        std::vector<std::string> macs;
        for (auto* d : hits) macs.push_back(d->mac);
        std::sort(macs.begin(), macs.end());
        std::string list;
        for (const auto& m : macs) list += (list.empty() ? "" : ", ") + m;
        errors.push_back(fmt::format("{} is ambiguous: {} devices ({})", quote(name), hits.size(), list));
      } else if (std::find(chosen.begin(), chosen.end(), hits.front()) == chosen.end()) {
        chosen.push_back(hits.front());
      }
    }
    if (!errors.empty()) return fail(join(errors));
  } else if (spec.all || !spec.where.empty()) {
    for (const auto& d : inventory) chosen.push_back(&d);
    auto key = [](const inventory::DeviceRecord* d) { return std::make_tuple(d->topic.value_or(""), d->mac); };
    std::sort(chosen.begin(), chosen.end(), [&](auto* a, auto* b) { return key(a) < key(b); });
  }
  std::vector<inventory::DeviceRecord> out;
  for (auto* d : chosen)
    if (std::all_of(spec.where.begin(), spec.where.end(), [&](const DeviceFilter& f) { return f.matches(*d); })) out.push_back(*d);
  return out;
}

std::vector<std::size_t> group_sizes(std::size_t n, const Amount& canary, const std::vector<Amount>& waves) {
  std::vector<std::size_t> sizes;
  std::size_t placed = canary.of(n);
  if (placed > 0) sizes.push_back(placed);
  for (std::size_t i = 0; i < waves.size(); ++i) {
    std::size_t upto = i + 1 == waves.size() ? n : std::max(waves[i].of(n), placed);
    if (upto > placed) sizes.push_back(upto - placed);
    placed = std::max(upto, placed);
  }
  if (placed < n) sizes.push_back(n - placed);  // no waves at all
  return sizes;
}

// --- Conditions ---------------------------------------------------------------------------------

bool error_condition_crossed(const RolloutSpec& spec, const GroupCounts& counts) {
  if (!spec.error_threshold || counts.total == 0) return false;
  if (counts.executed() < spec.error_min_executed) return false;
  const Amount& t = *spec.error_threshold;
  if (!t.percent) return static_cast<double>(counts.error) > t.value;
  // errors / total > value / 100, in whole numbers where it matters: 1 error in 10 is not more than 10%.
  double errors = static_cast<double>(counts.error) * 100.0, limit = t.value * static_cast<double>(counts.total);
  return errors - limit > 1e-9 * std::max(1.0, limit);
}

bool success_condition_met(const RolloutSpec& spec, const GroupCounts& counts) {
  if (counts.total == 0) return true;
  return counts.ended() >= spec.success_threshold.of(counts.total);
}

}  // namespace fleet::orchestrator
