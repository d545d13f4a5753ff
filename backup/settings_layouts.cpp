#include "backup/settings_layouts.h"

#include "backup/printable_text.h"
#include "backup/unishox.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <stdexcept>

namespace fleet::backup {

extern const char* const kBuiltinLayouts;

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// How a value is stored, and how decode-config shows it (tools/extract_dmp_layouts.py); read once from
// layouts.json, as enums, because a decode looks at each of ~1,500 values.
enum class Type { group, u8, i8, u16, i16, u24be, u32, i32, f32, u64, i64, str, text };
enum class Read { none, plus1, micro, ipv4, gpio32_user, mul, add, per_mille_floor, shutter_button, rules, script, script_only, hidden };

// One field definition as layouts.json describes it (see tools/extract_dmp_layouts.py).
struct FieldDef {
  // Declared: clang 14 with libstdc++ 12 cannot define the implicit one of a struct holding pairs of itself.
  FieldDef() {}
  Type type = Type::group;  // a group has members instead
  std::size_t at = 0;
  std::size_t len = 0;  // str/text: bytes
  int index = -1;       // text: index into the text pool
  int pool = 0;         // text: number of strings in the pool (SET_MAX)
  int bits = 0;         // bit field width (0: the whole value)
  int shift = 0;
  std::vector<int> count, stride;  // array shape and the byte stride of each dimension
  std::vector<std::pair<std::string, FieldDef>> group;
  Read read = Read::none;  // value conversion (see tools/extract_dmp_layouts.py)
  std::int64_t factor = 0; // the N of mul:N and add:N
};

struct FieldRun {
  int first = 0, last = 0;  // layout indexes
  unsigned platforms = 0;   // bit per platform number
  FieldDef def;
};

FieldDef parse_def(const json& j) {
  FieldDef d;
  static const std::map<std::string, Type> kTypes = {{"u8", Type::u8},   {"i8", Type::i8},       {"u16", Type::u16}, {"i16", Type::i16},
                                                     {"u24be", Type::u24be}, {"u32", Type::u32}, {"i32", Type::i32}, {"f32", Type::f32},
                                                     {"u64", Type::u64}, {"i64", Type::i64},     {"str", Type::str}, {"text", Type::text}};
  static const std::map<std::string, Read> kReads = {{"", Read::none},
                                                     {"plus1", Read::plus1},
                                                     {"micro", Read::micro},
                                                     {"ipv4", Read::ipv4},
                                                     {"gpio32_user", Read::gpio32_user},
                                                     {"per_mille_floor", Read::per_mille_floor},
                                                     {"shutter_button", Read::shutter_button},
                                                     {"rules", Read::rules},
                                                     {"script", Read::script},
                                                     {"script_only", Read::script_only},
                                                     {"hidden", Read::hidden}};
  if (auto t = j.value("type", ""); !t.empty()) {
    auto it = kTypes.find(t);
    if (it == kTypes.end()) throw std::runtime_error("unknown type " + t);
    d.type = it->second;
  }
  if (j.contains("at") && !j["at"].is_null()) d.at = j["at"].get<std::size_t>();
  d.len = j.value("len", std::size_t{0});
  d.index = j.value("index", -1);
  d.pool = j.value("pool", 0);
  d.bits = j.value("bits", 0);
  d.shift = j.value("shift", 0);
  if (j.contains("count")) d.count = j["count"].get<std::vector<int>>();
  if (j.contains("stride")) d.stride = j["stride"].get<std::vector<int>>();
  if (d.count.size() != d.stride.size()) throw std::runtime_error("count and stride differ in length");
  auto read = j.value("read", "");
  if (read.rfind("mul:", 0) == 0 || read.rfind("add:", 0) == 0) {
    d.read = read[0] == 'm' ? Read::mul : Read::add;
    d.factor = std::stoll(read.substr(4));
    if (d.read == Read::mul && d.factor == 0) throw std::runtime_error("mul:0");
  } else if (auto it = kReads.find(read); it != kReads.end()) {
    d.read = it->second;
  } else {
    throw std::runtime_error("unknown conversion " + read);
  }
  if (j.contains("group"))
    for (auto& [name, sub] : j["group"].items()) d.group.emplace_back(name, parse_def(sub));
  if (d.group.empty() && d.type == Type::group) throw std::runtime_error("a field without a type");
  return d;
}

std::size_t type_size(Type t) {
  switch (t) {
    case Type::u8:
    case Type::i8: return 1;
    case Type::u16:
    case Type::i16: return 2;
    case Type::u24be: return 3;
    case Type::u32:
    case Type::i32:
    case Type::f32: return 4;
    case Type::u64:
    case Type::i64: return 8;
    default: return 0;
  }
}

bool signed_type(Type t) { return t == Type::i8 || t == Type::i16 || t == Type::i32 || t == Type::i64; }

std::uint64_t read_le(const std::vector<std::uint8_t>& b, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t(b[at + i]) << (8 * i);
  return v;
}
void write_le(std::vector<std::uint8_t>& b, std::size_t at, std::size_t n, std::uint64_t v) {
  for (std::size_t i = 0; i < n; ++i) b[at + i] = std::uint8_t(v >> (8 * i));
}

// Printable text as decode-config shows it, cut at the first NUL.
std::string clean_text(const std::uint8_t* p, std::size_t n) {
  return printable_text(std::string_view(reinterpret_cast<const char*>(p), strnlen(reinterpret_cast<const char*>(p), n)));
}

// The text pool: `count` NUL-separated strings in `len` bytes (Tasmota's SettingsText). The count is the
// platform's (SET_MAX: 99 texts on ESP8266, more on ESP32), not the field's own `pool`: a field both
// platforms have says the ESP8266's, and the ESP32's texts past it must not be cut off.
std::vector<std::string> split_pool(const std::vector<std::uint8_t>& b, const FieldDef& d, int count) {
  std::vector<std::string> parts;
  std::size_t i = d.at, end = std::min(d.at + d.len, b.size());
  std::string cur;
  while (i < end) {
    if (b[i] == 0) {
      parts.push_back(cur);
      cur.clear();
      if (static_cast<int>(parts.size()) > count) break;
    } else {
      cur.push_back(static_cast<char>(b[i]));
    }
    ++i;
  }
  if (!cur.empty()) parts.push_back(cur);
  return parts;
}

// The pool's first `count` texts, each with its NUL, if they fit `len` bytes. Empty texts at the end
// may go without theirs when room is short (the zeros after the pool read as empty texts), as in files
// that hold more text than every NUL would leave room for.
std::optional<std::string> join_pool(const std::vector<std::string>& pool, int count, std::size_t len) {
  auto n = std::min(static_cast<std::size_t>(std::max(count, 0)), pool.size());
  std::size_t need = n;
  for (std::size_t i = 0; i < n; ++i) need += pool[i].size();
  while (need > len && n > 0 && pool[n - 1].empty()) {
    --n;
    --need;
  }
  if (need > len) return std::nullopt;
  std::string joined;
  joined.reserve(need);
  for (std::size_t i = 0; i < n; ++i) joined.append(pool[i]).push_back('\0');
  return joined;
}

std::string ipv4(std::uint32_t v) { return fmt::format("{}.{}.{}.{}", v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF, v >> 24); }

struct Context {
  const std::vector<std::uint8_t>& b;
  bool rules_compressible;
  bool scripting;  // the rules' space holds a script (Tasmota's scripter): decode-config shows one or the other
  std::vector<std::string>& notes;
  int pool_count = 0;  // texts in the pool on this platform
  std::optional<std::vector<std::string>> pool = {};  // the text pool, split at its first use
  std::size_t pool_at = 0;
};

ordered_json decode_value(const FieldDef& d, std::size_t dim, std::size_t offset, int text_offset, const std::string& name, Context& cx);

ordered_json decode_scalar(const FieldDef& d, std::size_t offset, int text_offset, const std::string& name, Context& cx) {
  if (!d.group.empty()) {
    ordered_json o = ordered_json::object();
    auto& object = o.get_ref<ordered_json::object_t&>();  // unique names: appended (see decode)
    for (auto& [sub, sd] : d.group) object.emplace_back(sub, decode_value(sd, 0, offset, text_offset, name, cx));
    return o;
  }
  std::size_t at = d.at + offset;
  if (d.type == Type::text) {
    // One pool of ~100 strings holds every text field: split once per file, not once per field.
    if (!cx.pool || cx.pool_at != d.at) {
      cx.pool = split_pool(cx.b, d, std::max(cx.pool_count, d.pool));
      cx.pool_at = d.at;
    }
    auto& parts = *cx.pool;
    auto idx = static_cast<std::size_t>(d.index + text_offset);
    if (idx >= parts.size()) return "";
    auto& s = parts[idx];
    return clean_text(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  }
  if (d.type == Type::str) {
    if (at + d.len > cx.b.size()) return nullptr;
    if (d.read == Read::rules && cx.rules_compressible && cx.b[at] == 0 && d.len > 1 && cx.b[at + 1] != 0) {
      auto rule = decode_stored_rule(&cx.b[at], d.len);  // a rule of 512 bytes or more, compressed
      if (rule) return clean_text(reinterpret_cast<const std::uint8_t*>(rule->data()), rule->size());
      cx.notes.push_back(fmt::format("{}[{}]: a compressed rule that does not decompress: kept byte for byte in the .dmp, not shown", name,
                                     (offset / d.len) + 1));
      return nullptr;
    }
    return clean_text(&cx.b[at], d.len);
  }
  std::size_t n = type_size(d.type);
  if (n == 0 || at + n > cx.b.size()) return nullptr;
  std::uint64_t raw = read_le(cx.b, at, n);
  if (d.type == Type::u24be) raw = std::uint64_t(cx.b[at]) << 16 | std::uint64_t(cx.b[at + 1]) << 8 | cx.b[at + 2];
  if (d.type == Type::f32) {
    float f;
    auto u = static_cast<std::uint32_t>(raw);
    std::memcpy(&f, &u, 4);
    return std::isfinite(f) ? ordered_json(static_cast<double>(f)) : ordered_json(nullptr);
  }
  if (d.bits > 0) {
    raw >>= d.shift;
    raw &= (d.bits >= 64) ? ~0ull : ((1ull << d.bits) - 1);
  }
  bool is_signed = signed_type(d.type) && d.bits == 0;
  std::int64_t value = static_cast<std::int64_t>(raw);
  if (is_signed && n < 8 && (raw >> (8 * n - 1)) & 1) value = static_cast<std::int64_t>(raw | (~0ull << (8 * n)));
  if (d.read == Read::plus1) return value + 1;
  if (d.read == Read::micro) return static_cast<double>(value) / 1000000.0;
  if (d.read == Read::ipv4) return ipv4(static_cast<std::uint32_t>(raw));
  if (d.read == Read::gpio32_user) return value == 65504 ? 1 : value;
  if (d.read == Read::mul) return value * d.factor;
  if (d.read == Read::add) return value + d.factor;
  if (d.read == Read::per_mille_floor) return std::floor(static_cast<double>(value) / 1000.0);
  if (d.read == Read::shutter_button) return value == 0 ? ordered_json("-") : ordered_json((value - 1) << 1);
  if (is_signed) return value;
  return raw;
}

ordered_json decode_value(const FieldDef& d, std::size_t dim, std::size_t offset, int text_offset, const std::string& name, Context& cx) {
  if (dim >= d.count.size()) return decode_scalar(d, offset, text_offset, name, cx);
  ordered_json arr = ordered_json::array();
  for (int i = 0; i < d.count[dim]; ++i) {
    if (d.type == Type::text)
      arr.push_back(decode_value(d, dim + 1, offset, text_offset + i, name, cx));
    else
      arr.push_back(decode_value(d, dim + 1, offset + static_cast<std::size_t>(i * d.stride[dim]), text_offset, name, cx));
  }
  return arr;
}

// decode-config shows the rules or the script, whichever the rules' space holds, and never its flags.
bool shown(const FieldDef& d, const Context& cx) {
  if (d.read == Read::hidden) return false;
  if (d.read == Read::script || d.read == Read::script_only) return cx.scripting;
  if (d.read == Read::rules) return !cx.scripting;
  return true;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

std::optional<int> as_index(const std::string& s) {
  if (s.empty() || s.size() > 4 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return std::stoi(s);
}

// Where the names and indexes after a path's field name lead inside that field: the definition the walk
// ends at, what it added to the byte offset and to the text index, and how many of that definition's
// dimensions it indexed (fewer than it has: the path names a whole array).
struct FieldPosition {
  const FieldDef* def = nullptr;
  std::size_t offset = 0, dim = 0;
  int text_offset = 0;
};

// Empty, or why the path leads nowhere (an index out of range, an unknown member).
std::string walk_path(const FieldDef* d, const std::vector<std::string>& parts, std::string_view path, FieldPosition& pos) {
  pos = {d};
  for (std::size_t k = 1; k < parts.size(); ++k) {
    if (pos.dim < pos.def->count.size()) {
      auto i = as_index(parts[k]);
      if (!i || *i >= pos.def->count[pos.dim]) return fmt::format("{}: index {} out of range", path, parts[k]);
      if (pos.def->type == Type::text) pos.text_offset += *i;
      else pos.offset += static_cast<std::size_t>(*i * pos.def->stride[pos.dim]);
      ++pos.dim;
      continue;
    }
    auto it = std::find_if(pos.def->group.begin(), pos.def->group.end(), [&](auto& g) { return g.first == parts[k]; });
    if (it == pos.def->group.end()) return fmt::format("{}: no member {}", path, parts[k]);
    pos.def = &it->second;
    pos.dim = 0;
  }
  return {};
}

}  // namespace

std::vector<std::string> field_variants(std::string_view name) {
  std::vector<std::string> out{std::string(name)};
  for (const char* x : {"_esp32", "_esp32s2", "_esp32s3", "_esp32c2", "_esp32c3", "_esp32c5", "_esp32c6", "_esp32p4"})
    out.push_back(std::string(name) + x);
  return out;
}

const ordered_json* find_variant(const ordered_json& object, std::string_view name, std::string* found) {
  if (!object.is_object()) return nullptr;
  const ordered_json* hit = nullptr;
  auto variant = last_variant(name, [&](const std::string& n) {
    auto f = object.find(n);
    if (f == object.end() || f->is_null()) return false;
    hit = &*f;
    return true;
  });
  if (hit && found) *found = variant;
  return hit;
}

struct SettingsLayouts::Impl {
  // The last files decoded: a job decodes the same bytes more than once (the backup when it is
  // validated, again when it is restored; the migrated image it expects, again when the device hands
  // the same image back), and decoding is a tenth of the daemon's loop (bench/rollout).
  struct Recent {
    std::size_t hash;  // files of one fleet share long runs of bytes: a hash before comparing 4 KB each
    std::vector<std::uint8_t> settings;
    std::shared_ptr<const DecodedSettings> decoded;
  };
  mutable std::mutex recent_mu;
  mutable std::deque<Recent> recent;
  static constexpr std::size_t kRecent = 16;

  std::vector<std::uint32_t> layout_ids;
  std::vector<std::string> layout_names;
  std::vector<std::string> platforms;
  std::vector<std::pair<std::string, std::vector<FieldRun>>> fields;

  int layout_index(std::uint32_t id) const {
    auto it = std::upper_bound(layout_ids.begin(), layout_ids.end(), id);
    if (it == layout_ids.begin()) return -1;
    return static_cast<int>(it - layout_ids.begin()) - 1;
  }
  // The definition a field's runs give for this layout and platform.
  static const FieldDef* in_runs(const std::vector<FieldRun>& runs, int layout, unsigned platform) {
    for (auto& r : runs)
      if (layout >= r.first && layout <= r.last && (r.platforms >> platform) & 1) return &r.def;
    return nullptr;
  }
  std::unordered_map<std::string, std::size_t> by_name;  // fields' index: a migration looks up every leaf
  const FieldDef* find(const std::string& name, int layout, unsigned platform) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : in_runs(fields[it->second].second, layout, platform);
  }
  // Whether the rules' space holds a script (Tasmota's scripter): decode shows one or the other.
  bool scripting(const DmpFile& file, int layout, unsigned platform) const {
    auto* used = find("scripting_used", layout, platform);
    return used && used->at + 1 <= file.settings.size() && ((file.settings[used->at] >> used->shift) & 1);
  }
  // The texts of the pool on this layout and platform: the largest `pool` of its text fields.
  int pool_count(int layout, unsigned platform) const {
    std::lock_guard lock(pool_counts_mu);
    auto [it, fresh] = pool_counts.try_emplace({layout, platform}, 0);
    if (!fresh) return it->second;
    std::function<void(const FieldDef&)> visit = [&](const FieldDef& d) {
      if (d.type == Type::text) it->second = std::max(it->second, d.pool);
      for (auto& g : d.group) visit(g.second);
    };
    for (auto& f : fields)
      if (auto* d = in_runs(f.second, layout, platform)) visit(*d);
    return it->second;
  }
  mutable std::mutex pool_counts_mu;
  mutable std::map<std::pair<int, unsigned>, int> pool_counts;
  // Platforms beyond the table (ESP32-C5) read as the plain ESP32 layout.
  unsigned platform_of(const DmpFile& f) const {
    auto p = f.platform().value_or(0);
    return p < platforms.size() ? p : 1;
  }
};

SettingsLayouts::SettingsLayouts() : impl_(std::make_unique<Impl>()) {}
SettingsLayouts::SettingsLayouts(SettingsLayouts&&) noexcept = default;
SettingsLayouts& SettingsLayouts::operator=(SettingsLayouts&&) noexcept = default;
SettingsLayouts::~SettingsLayouts() = default;

SettingsLayouts SettingsLayouts::parse(std::string_view text) {
  SettingsLayouts s;
  auto& im = *s.impl_;
  try {
    auto j = json::parse(text);
    im.platforms = j.at("platforms").get<std::vector<std::string>>();
    std::map<std::string, int> index_of;
    for (auto& l : j.at("layouts")) {
      auto id = static_cast<std::uint32_t>(std::stoul(l.at("id").get<std::string>(), nullptr, 16));
      if (!im.layout_ids.empty() && id <= im.layout_ids.back()) throw std::runtime_error("layouts out of order");
      index_of[l.at("version").get<std::string>()] = static_cast<int>(im.layout_ids.size());
      im.layout_ids.push_back(id);
      im.layout_names.push_back(l.at("version").get<std::string>());
    }
    for (auto& [name, runs] : j.at("fields").items()) {
      std::vector<FieldRun> out;
      for (auto& r : runs) {
        FieldRun fr;
        auto from = index_of.find(r.at("from").get<std::string>());
        auto to = index_of.find(r.at("to").get<std::string>());
        if (from == index_of.end() || to == index_of.end()) throw std::runtime_error(name + ": unknown layout version");
        fr.first = from->second;
        fr.last = to->second;
        for (auto& p : r.at("platforms")) {
          auto it = std::find(im.platforms.begin(), im.platforms.end(), p.get<std::string>());
          if (it == im.platforms.end()) throw std::runtime_error(name + ": unknown platform " + p.get<std::string>());
          fr.platforms |= 1u << (it - im.platforms.begin());
        }
        try {
          fr.def = parse_def(r);
        } catch (const std::exception& e) {
          throw std::runtime_error("settings layouts: " + name + ": " + e.what());
        }
        out.push_back(std::move(fr));
      }
      im.by_name[name] = im.fields.size();
      im.fields.emplace_back(name, std::move(out));
    }
  } catch (const std::runtime_error&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("settings layouts: ") + e.what());
  }
  if (im.layout_ids.empty()) throw std::runtime_error("settings layouts: no layouts");
  return s;
}

const SettingsLayouts& SettingsLayouts::builtin() {
  static const SettingsLayouts layouts = parse(kBuiltinLayouts);
  return layouts;
}

// Firmware of this layout stores long rules compressed: it has SetOption93 (compress_rules_cpu), which came
// with the compression (decode-config reads compressed rules on that condition too).
bool SettingsLayouts::layout_compresses_rules(int layout, unsigned platform) const {
  auto* flag4 = impl_->find("flag4", layout, platform);
  return flag4 && std::any_of(flag4->group.begin(), flag4->group.end(), [](auto& g) { return g.first == "compress_rules_cpu"; });
}

std::string SettingsLayouts::newest_layout() const { return impl_->layout_names.back(); }

std::string SettingsLayouts::layout_for(std::uint32_t id) const {
  int i = impl_->layout_index(id);
  return i < 0 ? std::string() : impl_->layout_names[static_cast<std::size_t>(i)];
}

DecodedSettings SettingsLayouts::decode(const DmpFile& file) const { return *decoded(file); }

std::shared_ptr<const DecodedSettings> SettingsLayouts::decoded(const DmpFile& file) const {
  auto hash = std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(file.settings.data()), file.settings.size()));
  {
    std::lock_guard lock(impl_->recent_mu);
    for (auto& r : impl_->recent)
      if (r.hash == hash && r.settings == file.settings) return r.decoded;
  }
  auto out = std::make_shared<const DecodedSettings>(decode_uncached(file));
  std::lock_guard lock(impl_->recent_mu);
  impl_->recent.push_back({hash, file.settings, out});
  if (impl_->recent.size() > Impl::kRecent) impl_->recent.pop_front();
  return out;
}

std::optional<ordered_json> SettingsLayouts::decode_field(const DmpFile& file, std::string_view path) const {
  auto parts = split_path(path);
  int layout = impl_->layout_index(file.version_id());
  if (layout < 0) return std::nullopt;
  unsigned platform = impl_->platform_of(file);
  const FieldDef* d = impl_->find(parts[0], layout, platform);
  if (!d) return std::nullopt;
  std::vector<std::string> notes;
  Context cx{file.settings, layout_compresses_rules(layout, platform), impl_->scripting(file, layout, platform), notes,
             impl_->pool_count(layout, platform)};
  if (!shown(*d, cx)) return std::nullopt;
  // Unlike set(), the path may end at an array or a group: the value there is decoded whole.
  FieldPosition pos;
  if (!walk_path(d, parts, path, pos).empty()) return std::nullopt;
  return decode_value(*pos.def, pos.dim, pos.offset, pos.text_offset, parts[0], cx);
}

DecodedSettings SettingsLayouts::decode_uncached(const DmpFile& file) const {
  DecodedSettings out;
  int layout = impl_->layout_index(file.version_id());
  unsigned platform = impl_->platform_of(file);
  out.platform = platform_name(file.platform().value_or(0));
  out.fields = ordered_json::object();
  if (layout < 0) {
    out.notes.push_back(fmt::format("no layout for Tasmota {}", file.version().str()));
    return out;
  }
  out.layout = impl_->layout_names[static_cast<std::size_t>(layout)];
  if (file.version_id() > impl_->layout_ids.back())
    out.notes.push_back(fmt::format("Tasmota {} is newer than the newest layout known here: read with the {} layout; fields a newer "
                                    "firmware added or moved are not shown (the .dmp keeps them)",
                                    file.version().str(), out.layout));
  if (file.platform().value_or(0) >= impl_->platforms.size())
    out.notes.push_back(fmt::format("{} has no layout of its own in decode-config's tables: read with the ESP32 layout", out.platform));
  bool compressible = layout_compresses_rules(layout, platform);
  Context cx{file.settings, compressible, impl_->scripting(file, layout, platform), out.notes, impl_->pool_count(layout, platform)};
  // Appended, not assigned by key: the names are unique, and ordered_json's lookup by key is a linear
  // scan (with ~500 fields that made every decode quadratic).
  auto& object = out.fields.get_ref<ordered_json::object_t&>();
  for (auto& [name, runs] : impl_->fields) {
    auto* d = Impl::in_runs(runs, layout, platform);
    if (!d) continue;
    if (d->read == Read::hidden) out.hidden[name] = decode_value(*d, 0, 0, 0, name, cx);
    if (!shown(*d, cx)) continue;
    object.emplace_back(name, decode_value(*d, 0, 0, 0, name, cx));
  }
  return out;
}

namespace {

// The fields that describe the file rather than the device: written by whoever makes the file.
bool header_field(const std::string& name) {
  static const char* const kHeader[] = {"version", "cfg_size", "cfg_crc", "cfg_crc32", "config_version", "cfg_timestamp", "save_flag", "cfg_holder"};
  return std::any_of(std::begin(kHeader), std::end(kHeader), [&](const char* h) { return name == h; });
}

void encode_leaves(const SettingsLayouts& layouts, DmpFile& file, const ordered_json& value, const ordered_json* now, const std::string& path,
                   std::vector<std::string>& errors) {
  if (value.is_object()) {
    for (auto& [k, v] : value.items()) {
      const ordered_json* sub = now && now->is_object() && now->contains(k) ? &(*now)[k] : nullptr;
      encode_leaves(layouts, file, v, sub, path + "/" + k, errors);
    }
    return;
  }
  if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      const ordered_json* sub = now && now->is_array() && i < now->size() ? &(*now)[i] : nullptr;
      encode_leaves(layouts, file, value[i], sub, path + "/" + std::to_string(i), errors);
    }
    return;
  }
  if (value.is_null() || (now && *now == value)) return;
  if (auto why = layouts.set(file, path, value); !why.empty()) errors.push_back(why);
}

}  // namespace

std::vector<std::string> SettingsLayouts::encode(DmpFile& file, const ordered_json& fields) const {
  std::vector<std::string> errors;
  if (!fields.is_object()) return {"the settings are no JSON object"};
  // decode-config shows the scripter's script instead of the rules, never the flag that says which the
  // rules' space holds: a script given turns the flag on (else the script would read back as rules).
  if (fields.contains("script") && fields["script"].is_string()) {
    int layout = impl_->layout_index(file.version_id());
    if (auto* used = layout < 0 ? nullptr : impl_->find("scripting_used", layout, impl_->platform_of(file));
        used && used->at < file.settings.size())
      file.settings[used->at] |= static_cast<std::uint8_t>(1u << used->shift);
  }
  auto now = decode_uncached(file).fields;
  for (auto& [name, value] : fields.items()) {
    if (header_field(name) || name == "header") continue;
    encode_leaves(*this, file, value, now.contains(name) ? &now[name] : nullptr, name, errors);
  }
  return errors;
}

namespace {

// Two definitions that store a value the same way, wherever each one sits.
bool stored_alike(const FieldDef& a, const FieldDef& b) {
  if (a.type != b.type || a.len != b.len || a.bits != b.bits || a.shift != b.shift || a.read != b.read || a.factor != b.factor || a.count != b.count ||
      a.stride != b.stride || a.group.size() != b.group.size())
    return false;
  for (std::size_t i = 0; i < a.group.size(); ++i)
    if (a.group[i].first != b.group[i].first || !stored_alike(a.group[i].second, b.group[i].second)) return false;
  return true;
}

struct PoolCopy {
  const std::vector<std::uint8_t>& from;
  std::vector<std::uint8_t>& to;
  int from_count, to_count;  // texts in each pool (the platforms' SET_MAX)
  std::map<std::size_t, std::vector<std::string>> from_pools, to_pools;  // by offset: split once
  std::map<std::size_t, const FieldDef*> to_defs;
};

void copy_value(const FieldDef& a, const FieldDef& b, std::size_t dim, std::size_t offset, int text_offset, PoolCopy& cx) {
  if (dim < a.count.size()) {
    for (int i = 0; i < a.count[dim]; ++i) {
      if (a.type == Type::text) copy_value(a, b, dim + 1, offset, text_offset + i, cx);
      else copy_value(a, b, dim + 1, offset + static_cast<std::size_t>(i * a.stride[dim]), text_offset, cx);
    }
    return;
  }
  if (!a.group.empty()) {
    for (std::size_t i = 0; i < a.group.size(); ++i) copy_value(a.group[i].second, b.group[i].second, 0, offset, text_offset, cx);
    return;
  }
  if (a.type == Type::text) {
    auto& src = cx.from_pools.try_emplace(a.at, split_pool(cx.from, a, cx.from_count)).first->second;
    auto [it, fresh] = cx.to_pools.try_emplace(b.at);
    if (fresh) {
      it->second = split_pool(cx.to, b, cx.to_count);
      it->second.resize(static_cast<std::size_t>(std::max<int>(cx.to_count, static_cast<int>(it->second.size()))));
      cx.to_defs[b.at] = &b;
    }
    auto from_i = static_cast<std::size_t>(a.index + text_offset), to_i = static_cast<std::size_t>(b.index + text_offset);
    if (to_i < it->second.size()) it->second[to_i] = from_i < src.size() ? src[from_i] : std::string();
    return;
  }
  std::size_t n = a.type == Type::str ? a.len : type_size(a.type);
  std::size_t from_at = a.at + offset, to_at = b.at + offset;
  if (n == 0 || from_at + n > cx.from.size() || to_at + n > cx.to.size()) return;  // as decode and set skip it
  if (a.bits > 0) {
    std::uint64_t mask = (a.bits >= 64 ? ~0ull : ((1ull << a.bits) - 1)) << a.shift;
    write_le(cx.to, to_at, n, (read_le(cx.to, to_at, n) & ~mask) | (read_le(cx.from, from_at, n) & mask));
    return;
  }
  std::copy_n(cx.from.begin() + static_cast<std::ptrdiff_t>(from_at), n, cx.to.begin() + static_cast<std::ptrdiff_t>(to_at));
}

bool has_text(const FieldDef& d) {
  return d.type == Type::text || std::any_of(d.group.begin(), d.group.end(), [](auto& g) { return has_text(g.second); });
}

}  // namespace

std::vector<std::string> SettingsLayouts::copy_stored(const DmpFile& from, DmpFile& to, const std::vector<std::string>& names) const {
  int from_layout = impl_->layout_index(from.version_id()), to_layout = impl_->layout_index(to.version_id());
  if (from_layout < 0 || to_layout < 0) return names;
  unsigned from_platform = impl_->platform_of(from), to_platform = impl_->platform_of(to);
  // Long rules are stored compressed only by firmware that compresses them.
  bool rules_alike = layout_compresses_rules(from_layout, from_platform) == layout_compresses_rules(to_layout, to_platform);
  std::vector<std::string> left, texts;
  PoolCopy cx{from.settings,
              to.settings,
              std::max(1, impl_->pool_count(from_layout, from_platform)),
              std::max(1, impl_->pool_count(to_layout, to_platform)),
              {},
              {},
              {}};
  for (auto& name : names) {
    auto* a = impl_->find(name, from_layout, from_platform);
    auto* b = impl_->find(name, to_layout, to_platform);
    if (!a || !b || !stored_alike(*a, *b) || (a->read == Read::rules && !rules_alike)) {
      left.push_back(name);
      continue;
    }
    if (has_text(*a)) texts.push_back(name);
    copy_value(*a, *b, 0, 0, 0, cx);
  }
  for (auto& [at, pool] : cx.to_pools) {
    auto* d = cx.to_defs[at];
    if (at + d->len > to.settings.size()) continue;
    auto fitted = join_pool(pool, cx.to_count, d->len);
    if (!fitted) {  // the texts do not fit this pool: the caller writes them one by one
      left.insert(left.end(), texts.begin(), texts.end());
      texts.clear();
      continue;
    }
    std::fill_n(to.settings.begin() + static_cast<std::ptrdiff_t>(at), d->len, 0);
    std::copy(fitted->begin(), fitted->end(), to.settings.begin() + static_cast<std::ptrdiff_t>(at));
  }
  return left;
}

std::string SettingsLayouts::set(DmpFile& file, std::string_view path, const nlohmann::json& value) const {
  auto parts = split_path(path);
  int layout = impl_->layout_index(file.version_id());
  if (layout < 0) return fmt::format("no layout for Tasmota {}", file.version().str());
  const FieldDef* field = impl_->find(parts[0], layout, impl_->platform_of(file));
  if (!field) return fmt::format("{}: no such field in the {} layout", parts[0], impl_->layout_names[static_cast<std::size_t>(layout)]);
  FieldPosition pos;
  if (auto why = walk_path(field, parts, path, pos); !why.empty()) return why;
  const FieldDef* d = pos.def;
  std::size_t offset = pos.offset, dim = pos.dim;
  int text_offset = pos.text_offset;
  if (dim < d->count.size() || !d->group.empty()) return fmt::format("{}: names a whole array or group, not one value", path);
  auto& b = file.settings;
  std::size_t at = d->at + offset;
  if (d->type == Type::str || d->type == Type::text) {
    if (!value.is_string()) return fmt::format("{}: expects a string", path);
    auto s = value.get<std::string>();
    if (s.find('\0') != std::string::npos) return fmt::format("{}: NUL inside a string", path);
    // What the decode would show of it, as decode-config does: a value must read back as it was given.
    if (printable_text(s) != s)
      return fmt::format("{}: holds characters a settings file does not show (control characters such as U+007F, or bytes that are "
                         "not UTF-8)",
                         path);
    if (d->type == Type::str && d->read == Read::rules) {  // long rules are stored compressed, as SetRule does
      auto stored = encode_stored_rule(s, d->len, layout_compresses_rules(layout, impl_->platform_of(file)));
      if (!stored) return fmt::format("{}: a rule of {} bytes does not fit {} bytes, compressed or not", path, s.size(), d->len);
      std::copy(stored->begin(), stored->end(), b.begin() + static_cast<std::ptrdiff_t>(at));
      return {};
    }
    if (d->type == Type::str) {
      if (s.size() + 1 > d->len) return fmt::format("{}: {} bytes do not fit {}", path, s.size(), d->len - 1);
      std::fill(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + d->len), 0);
      std::copy(s.begin(), s.end(), b.begin() + static_cast<std::ptrdiff_t>(at));
      return {};
    }
    int count = std::max(d->pool, impl_->pool_count(layout, impl_->platform_of(file)));
    auto pool = split_pool(b, *d, count);
    pool.resize(static_cast<std::size_t>(std::max<int>(count, static_cast<int>(pool.size()))));
    pool[static_cast<std::size_t>(d->index + text_offset)] = s;
    auto fitted = join_pool(pool, count, d->len);
    if (!fitted) {
      std::size_t need = 0;
      for (int i = 0; i < count; ++i) need += pool[static_cast<std::size_t>(i)].size() + 1;
      return fmt::format("{}: the text pool would need {} bytes of {}", path, need, d->len);
    }
    const std::string& joined = *fitted;
    std::fill(b.begin() + static_cast<std::ptrdiff_t>(d->at), b.begin() + static_cast<std::ptrdiff_t>(d->at + d->len), 0);
    std::copy(joined.begin(), joined.end(), b.begin() + static_cast<std::ptrdiff_t>(d->at));
    return {};
  }
  std::size_t n = type_size(d->type);
  if (n == 0 || at + n > b.size()) return fmt::format("{}: outside the settings", path);
  if (d->type == Type::f32) {
    if (!value.is_number()) return fmt::format("{}: expects a number", path);
    float f = value.get<float>();
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    write_le(b, at, 4, u);
    return {};
  }
  std::int64_t v = 0;
  nlohmann::json given = value;
  // decode-config's JSON shows some numbers as "0x…" or "0b…" text (its display format): the same numbers
  if (value.is_string() && d->read != Read::ipv4 && d->read != Read::shutter_button) {
    auto t = value.get<std::string>();
    int base = t.rfind("0x", 0) == 0 ? 16 : t.rfind("0b", 0) == 0 ? 2 : 0;
    char* end = nullptr;
    if (base && t.size() > 2) {
      auto n = std::strtoull(t.c_str() + 2, &end, base);
      if (end && *end == 0) given = n;
    }
  }
  if (d->read == Read::per_mille_floor) {  // shown in thousands, rounded down: a value that still shows the same keeps its units
    if (!given.is_number()) return fmt::format("{}: expects a number", path);
    auto raw = static_cast<std::int64_t>(read_le(b, at, n));
    if (std::floor(static_cast<double>(raw) / 1000.0) == std::floor(given.get<double>())) return {};
    given = std::llround(std::floor(given.get<double>()) * 1000.0);
  }
  if (d->read == Read::shutter_button) {  // "-": not set; else an even number, stored halved plus one
    if (given == "-") given = 0;
    else if (!given.is_number_integer() || given.get<std::int64_t>() < 0 || given.get<std::int64_t>() % 2)
      return fmt::format("{}: expects \"-\" or an even number", path);
    else given = given.get<std::int64_t>() / 2 + 1;
  }
  if (d->read == Read::ipv4) {
    unsigned a, b2, c, e;
    if (!value.is_string() || std::sscanf(value.get<std::string>().c_str(), "%u.%u.%u.%u", &a, &b2, &c, &e) != 4 || a > 255 || b2 > 255 || c > 255 || e > 255)
      return fmt::format("{}: expects an IPv4 address", path);
    v = a | b2 << 8 | c << 16 | std::int64_t(e) << 24;
  } else if (d->read == Read::micro) {
    if (!value.is_number()) return fmt::format("{}: expects a number", path);
    v = std::llround(value.get<double>() * 1000000.0);
  } else {
    if (!given.is_number_integer()) return fmt::format("{}: expects an integer", path);
    v = given.is_number_unsigned() ? static_cast<std::int64_t>(given.get<std::uint64_t>()) : given.get<std::int64_t>();
    if (d->read == Read::plus1) v -= 1;
    if (d->read == Read::gpio32_user && v == 1) v = 65504;
    if (d->read == Read::add) v -= d->factor;
    if (d->read == Read::mul) {
      auto k = d->factor;
      if (v % k) return fmt::format("{}: {} is no multiple of {}", path, v, k);
      v /= k;
    }
  }
  if (d->bits > 0) {
    std::uint64_t mask = (d->bits >= 64) ? ~0ull : ((1ull << d->bits) - 1);
    if (v < 0 || static_cast<std::uint64_t>(v) > mask) return fmt::format("{}: {} does not fit {} bits", path, v, d->bits);
    std::uint64_t raw = read_le(b, at, n);
    raw = (raw & ~(mask << d->shift)) | (static_cast<std::uint64_t>(v) << d->shift);
    write_le(b, at, n, raw);
    return {};
  }
  if (d->type == Type::u24be) {
    if (v < 0 || v > 0xFFFFFF) return fmt::format("{}: {} does not fit three bytes", path, v);
    b[at] = static_cast<std::uint8_t>(v >> 16);
    b[at + 1] = static_cast<std::uint8_t>(v >> 8);
    b[at + 2] = static_cast<std::uint8_t>(v);
    return {};
  }
  bool is_signed = signed_type(d->type);
  if (n < 8) {
    std::int64_t lo = is_signed ? -(std::int64_t(1) << (8 * n - 1)) : 0;
    std::int64_t hi = is_signed ? (std::int64_t(1) << (8 * n - 1)) - 1 : (std::int64_t(1) << (8 * n)) - 1;
    if (v < lo || v > hi) return fmt::format("{}: {} out of range {}..{}", path, v, lo, hi);
  }
  write_le(b, at, n, static_cast<std::uint64_t>(v));
  return {};
}

}  // namespace fleet::backup
