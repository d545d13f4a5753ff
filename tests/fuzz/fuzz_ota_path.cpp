// The OTA server's request path (firmware/ota_server.cpp): the request target a device (or anyone on
// the network) sends, decoded as cpp-httplib decodes it, then looked up in the firmware store exactly as
// the server does (leading '/' off, FirmwareStore::resolve over its index; here an index in memory).
// Aborts when a path is served that names no indexed file, or one whose parts could step out of the
// store: "..", ".", empty parts, a leading '/', a backslash.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include <httplib.h>

#include "firmware/firmware_store.h"

using namespace fleet::firmware;

namespace {

struct MemoryIndex : FirmwareIndex {
  std::map<std::string, FirmwareEntry> rows;
  void put(FirmwareEntry& e) override {
    e.id = static_cast<std::int64_t>(rows.size()) + 1;
    rows[e.path] = e;
  }
  std::vector<FirmwareEntry> all() override {
    std::vector<FirmwareEntry> out;
    for (auto& [path, e] : rows) out.push_back(e);
    return out;
  }
  std::optional<FirmwareEntry> find(const std::string& path) override {
    auto it = rows.find(path);
    return it == rows.end() ? std::nullopt : std::optional(it->second);
  }
};

MemoryIndex& index() {
  static MemoryIndex idx = [] {
    MemoryIndex m;
    auto add = [&](std::string path, std::string build, bool gz) {
      FirmwareEntry e;
      e.path = std::move(path);
      e.version = "8.5.1";
      e.build = std::move(build);
      e.chip = "ESP8266";
      e.bytes = 1000;
      e.gzip = gz;
      m.put(e);
    };
    add("tasmota/release-8.5.1/tasmota.bin", "tasmota", false);
    add("tasmota/release-8.5.1/tasmota-minimal.bin", "tasmota-minimal", false);
    add("tasmota/release-8.5.1/tasmota-minimal.bin.gz", "tasmota-minimal", true);
    add("tasmota32/release-14.2.0/tasmota32c3.bin", "tasmota32c3", false);
    add("github/v4.2.0/firmware.bin", "firmware", false);
    return m;
  }();
  return idx;
}

bool inside_store(const std::string& path) {
  if (path.empty() || path.front() == '/' || path.find('\\') != std::string::npos) return false;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = std::min(path.find('/', start), path.size());
    auto part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string target(reinterpret_cast<const char*>(data), size);
  // cpp-httplib: the path is the target up to '?', percent-decoded ('+' stays '+').
  std::string path = httplib::detail::decode_url(target.substr(0, target.find('?')), false);
  static FirmwareStore store("/var/lib/tasmota-fleet/firmware", index());
  if (path.empty() || path.front() != '/') return 0;  // answered 400
  path.erase(0, 1);
  auto entry = store.resolve(path);
  if (!entry) return 0;
  if (!index().find(entry->path) || !inside_store(path) || !inside_store(entry->path)) std::abort();
  if (store.file_of(*entry) != store.root() + "/" + entry->path) std::abort();
  return 0;
}
