#include "firmware/downloader.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace fleet::firmware {
namespace {

struct Sink {
  std::vector<std::uint8_t>* out;
  std::size_t max;
  bool too_big = false;
};

std::size_t on_data(char* data, std::size_t size, std::size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  std::size_t bytes = size * n;
  if (s->out->size() + bytes > s->max) {
    s->too_big = true;
    return 0;  // aborts the transfer
  }
  s->out->insert(s->out->end(), reinterpret_cast<std::uint8_t*>(data), reinterpret_cast<std::uint8_t*>(data) + bytes);
  return bytes;
}

}  // namespace

Download download(const std::string& url, std::size_t max_bytes, long timeout_s) {
  HttpRequest r;
  r.max_bytes = max_bytes;
  r.timeout_s = timeout_s;
  r.follow_redirects = true;
  return http_request(url, r);
}

Download http_request(const std::string& url, const HttpRequest& request) {
  const std::size_t max_bytes = request.max_bytes;
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  Download d;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) {
    d.error = "libcurl failed to start";
    return d;
  }
  Sink sink{&d.bytes, max_bytes};
  char errbuf[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, request.timeout_s);
  if (!request.user.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, request.user.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, request.password.c_str());
  }
  std::unique_ptr<curl_mime, decltype(&curl_mime_free)> mime(nullptr, &curl_mime_free);
  if (request.upload) {
    mime.reset(curl_mime_init(c));
    curl_mimepart* part = curl_mime_addpart(mime.get());
    curl_mime_name(part, request.upload->field.c_str());
    curl_mime_filename(part, request.upload->file_name.c_str());
    curl_mime_type(part, "application/octet-stream");
    curl_mime_data(part, reinterpret_cast<const char*>(request.upload->bytes.data()), request.upload->bytes.size());
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime.get());
  }
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(max_bytes));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "tasmota-fleet");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &d.http_status);
  if (sink.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
    d.error = "larger than " + std::to_string(max_bytes) + " bytes";
  } else if (rc != CURLE_OK) {
    d.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  } else if (d.http_status != 200) {
    d.error = "HTTP " + std::to_string(d.http_status);
  } else {
    d.ok = true;
    return d;
  }
  d.bytes.clear();
  return d;
}

}  // namespace fleet::firmware
