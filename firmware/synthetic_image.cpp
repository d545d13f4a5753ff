#include "firmware/synthetic_image.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string_view>

#include "firmware/image.h"

namespace fleet::firmware {
namespace {

constexpr std::string_view kMarker = "TASMOTA-FLEET-SYNTHETIC-IMAGE ";

void put32(std::vector<std::uint8_t>& v, std::uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
}
void put_text(std::vector<std::uint8_t>& v, std::string_view s, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) v.push_back(i < s.size() ? static_cast<std::uint8_t>(s[i]) : 0);
}
// Half noise, half zeros: compresses roughly like real firmware does.
void fill(std::vector<std::uint8_t>& v, std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  for (std::size_t i = 0; i < n; ++i) v.push_back((i / 64) % 2 ? 0 : static_cast<std::uint8_t>(rng()));
}

}  // namespace

std::vector<std::uint8_t> gzip_bytes(std::span<const std::uint8_t> plain) {
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("zlib deflateInit2 failed");
  std::vector<std::uint8_t> out(deflateBound(&z, plain.size()) + 64);
  z.next_in = const_cast<Bytef*>(plain.data());
  z.avail_in = static_cast<uInt>(plain.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("zlib deflate failed");
  return out;
}

std::vector<std::uint8_t> make_image(const SyntheticImage& spec) {
  std::vector<std::uint8_t> v;
  std::uint32_t seed = static_cast<std::uint32_t>(std::hash<std::string>{}(spec.version + spec.build));
  if (planner::is_esp32_family(spec.chip)) {
    auto id = image_id_of(spec.chip);
    if (!id) throw std::invalid_argument("no image chip id for " + planner::to_string(spec.chip));
    // esp_image_header_t (24 bytes)
    v = {0xE9, 2, 0x02, 0x20};
    put32(v, 0x40081000);
    v.push_back(0xEE);
    v.insert(v.end(), {0, 0, 0});
    v.push_back(static_cast<std::uint8_t>(*id));
    v.push_back(static_cast<std::uint8_t>(*id >> 8));
    v.push_back(0);                      // min_chip_rev
    v.insert(v.end(), {0, 0, 0xFF, 0xFF});  // min/max chip rev full
    v.insert(v.end(), {0, 0, 0, 0, 0});  // reserved[4], hash_appended = 0
    // Segment 1: the app description (esp_app_desc_t, 256 bytes).
    put32(v, 0x3F400020);
    put32(v, 256);
    std::size_t desc = v.size();
    put32(v, 0xABCD5432);
    put32(v, 0);
    put32(v, 0);
    put32(v, 0);
    put_text(v, spec.version, 32);
    put_text(v, spec.build, 32);
    put_text(v, "00:00:00", 16);
    put_text(v, "Nov 25 2026", 16);
    put_text(v, "v5.3", 32);
    v.resize(desc + 256, 0);
    // Segment 2: the rest, then the checksum byte at the end of a 16-byte block.
    std::size_t used = v.size() + 8 + 16;
    std::size_t rest = spec.bytes > used ? spec.bytes - used : 16;
    rest -= rest % 4;
    put32(v, 0x400D0020);
    put32(v, static_cast<std::uint32_t>(rest));
    fill(v, rest, seed);
    std::size_t end = (v.size() / 16 + 1) * 16;
    v.resize(end, 0);
    v.back() = 0xEF;
  } else {
    v = {0xE9, 2, 0x03, static_cast<std::uint8_t>((spec.esp8266_flash_code & 0x0F) << 4)};
    put32(v, 0x40100000);
    std::string marker = std::string(kMarker) + "version=" + spec.version + " build=" + spec.build;
    put32(v, 0x3FFE8000);
    put32(v, 128);
    put_text(v, marker, 128);
    std::size_t used = v.size() + 8;
    std::size_t rest = spec.bytes > used ? spec.bytes - used : 16;
    put32(v, 0x40100400);
    put32(v, static_cast<std::uint32_t>(rest));
    fill(v, rest, seed);
  }
  return spec.gzip ? gzip_bytes(v) : v;
}

std::optional<ImageIdentity> identify(std::span<const std::uint8_t> plain) {
  auto r = inspect(plain);
  if (!r.ok()) return std::nullopt;
  if (r.info->esp32) {
    if (r.info->app_version.empty()) return std::nullopt;
    return ImageIdentity{r.info->app_version, r.info->project_name};
  }
  std::string_view text(reinterpret_cast<const char*>(plain.data()), std::min<std::size_t>(plain.size(), 512));
  auto at = text.find(kMarker);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(at + kMarker.size());
  rest = rest.substr(0, rest.find('\0'));
  auto field = [&](std::string_view key) -> std::string {
    auto k = rest.find(key);
    if (k == std::string_view::npos) return {};
    auto v = rest.substr(k + key.size());
    return std::string(v.substr(0, v.find(' ')));
  };
  ImageIdentity id{field("version="), field("build=")};
  if (id.version.empty()) return std::nullopt;
  return id;
}

}  // namespace fleet::firmware
