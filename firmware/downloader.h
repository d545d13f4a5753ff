#pragma once
// Downloads an image from upstream (libcurl) for the firmware store. The bytes land in memory (images
// are at most a few MB) and enter the store only through FirmwareStore::add, which checks, hashes and
// renames into place, so a partial or failed download never appears under a real name.
#include <cstdint>
#include <string>
#include <vector>

namespace fleet::firmware {

struct Download {
  bool ok = false;
  long http_status = 0;
  std::vector<std::uint8_t> bytes;
  std::string error;  // "Could not resolve host: ota.tasmota.com", "HTTP 404"
};

// http:// and https:// only; follows redirects (GitHub release downloads); refuses more than max_bytes.
Download download(const std::string& url, std::size_t max_bytes, long timeout_s = 120);

}  // namespace fleet::firmware
