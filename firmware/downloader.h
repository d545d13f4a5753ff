#pragma once
// Downloads an image from upstream (libcurl) for the firmware store. The bytes land in memory (images
// are at most a few MB) and enter the store only through FirmwareStore::add, which checks, hashes and
// renames into place, so a partial or failed download never appears under a real name.
#include <cstdint>
#include <optional>
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

// The same client for a device's web server: basic auth, and a multipart POST of one file (Tasmota's
// /u2 takes the settings file in the field "u2"). No redirects are followed: a device that redirects
// /dl to its main page is refusing (not in admin mode).
struct HttpRequest {
  std::string user, password;  // basic auth when user is set
  std::size_t max_bytes = 1 << 20;
  long timeout_s = 30;
  bool follow_redirects = false;
  struct File {
    std::string field, file_name;
    std::vector<std::uint8_t> bytes;
  };
  std::optional<File> upload;  // set: POST multipart/form-data
};
Download http_request(const std::string& url, const HttpRequest& request);

}  // namespace fleet::firmware
