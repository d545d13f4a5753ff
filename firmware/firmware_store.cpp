#include "firmware/firmware_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/core.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "firmware/sha256.h"

namespace fs = std::filesystem;

namespace fleet::firmware {
namespace {

AddResult refuse(std::string why) { return AddResult{std::nullopt, std::move(why)}; }

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

bool write_durably(const std::string& file, std::span<const std::uint8_t> bytes) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      ::close(fd);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  bool ok = ::fsync(fd) == 0;
  return ::close(fd) == 0 && ok;
}

}  // namespace

FirmwareStore::FirmwareStore(std::string root, FirmwareIndex& index) : root_(std::move(root)), index_(index) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

bool FirmwareStore::safe_relative_path(const std::string& path) {
  if (path.empty() || path.size() > 512 || path.front() == '/' || path.back() == '/') return false;
  for (unsigned char c : path)
    if (c < 0x21 || c == 0x7f || c == '\\' || c == '%' || c == '?' || c == '#' || c == ':') return false;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == ".." || part.front() == '.') return false;  // also hides .incoming
    start = end + 1;
  }
  return true;
}

AddResult FirmwareStore::add(std::span<const std::uint8_t> bytes, const AddRequest& req, std::int64_t now_ms) {
  if (!safe_relative_path(req.path)) return refuse(fmt::format("'{}' is not a plain relative path", req.path));
  bool gz_name = req.path.ends_with(".bin.gz");
  if (!gz_name && !req.path.ends_with(".bin")) return refuse(fmt::format("'{}': image names end in .bin or .bin.gz", req.path));
  auto r = inspect(bytes);
  if (!r.ok()) return refuse("refused, " + r.error);
  const ImageInfo& img = *r.info;
  if (img.gzip != gz_name)
    return refuse(fmt::format("'{}' is named {} but the file is {}", req.path, gz_name ? ".gz" : "plain .bin", img.gzip ? "gzip" : "not gzip"));
  planner::Chip chip = req.chip == planner::Chip::Unknown ? img.chip : req.chip;
  if (auto why = unsuitable(img, DeviceFit{chip, {}, {}, {}}, true)) return refuse("refused: " + *why);
  std::string sha = sha256_hex(bytes);
  if (req.expect_sha256 && *req.expect_sha256 != sha)
    return refuse(fmt::format("SHA-256 mismatch: expected {}, got {}", *req.expect_sha256, sha));
  if (auto existing = index_.find(req.path)) {
    if (existing->sha256 == sha && fs::exists(file_of(*existing))) return AddResult{existing, {}};
    if (existing->sha256 != sha)
      return refuse(fmt::format("'{}' is already in the store with another SHA-256 ({}); an image is never replaced in place", req.path,
                                existing->sha256.substr(0, 12)));
  }

  std::error_code ec;
  fs::create_directories(root_ + "/.incoming", ec);
  fs::create_directories(root_ + "/" + dir_of(req.path), ec);
  if (ec) return refuse(fmt::format("cannot create folders in {}: {}", root_, ec.message()));
  std::string tmp = fmt::format("{}/.incoming/{}-{:x}.part", root_, ::getpid(), std::random_device{}());
  if (!write_durably(tmp, bytes)) {
    fs::remove(tmp, ec);
    return refuse(fmt::format("cannot write into {}", root_));
  }
  fs::rename(tmp, root_ + "/" + req.path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return refuse(fmt::format("cannot move the image into place: {}", ec.message()));
  }
  FirmwareEntry e;
  e.path = req.path;
  e.version = req.version;
  e.build = req.build;
  e.chip = img.esp32 ? planner::to_string(img.chip) : "ESP8266";
  e.bytes = static_cast<std::int64_t>(bytes.size());
  e.sha256 = sha;
  e.source = req.source;
  e.added_ms = now_ms;
  e.gzip = img.gzip;
  index_.put(e);
  return AddResult{e, {}};
}

AddResult FirmwareStore::add_file(const std::string& file, const AddRequest& req, std::int64_t now_ms) {
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec) return refuse(fmt::format("cannot read {}: {}", file, ec.message()));
  if (size > kMaxImageBytes) return refuse(fmt::format("{}: {} bytes, larger than any ESP flash", file, size));
  std::ifstream in(file, std::ios::binary);
  std::vector<std::uint8_t> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (!in) return refuse(fmt::format("cannot read {}", file));
  return add(bytes, req, now_ms);
}

std::vector<VerifyProblem> FirmwareStore::verify() {
  std::vector<VerifyProblem> problems;
  for (const auto& e : index_.all()) {
    std::error_code ec;
    auto size = fs::file_size(file_of(e), ec);
    if (ec) {
      problems.push_back({e.path, "missing"});
      continue;
    }
    auto sha = sha256_file(file_of(e));
    if (!sha) problems.push_back({e.path, "unreadable"});
    else if (*sha != e.sha256) problems.push_back({e.path, fmt::format("SHA-256 mismatch: index {}, file {}", e.sha256, *sha)});
    else if (static_cast<std::int64_t>(size) != e.bytes) problems.push_back({e.path, fmt::format("size {} , index says {}", size, e.bytes)});
  }
  return problems;
}

std::optional<FirmwareEntry> FirmwareStore::resolve(const std::string& request_path) {
  if (!safe_relative_path(request_path)) return std::nullopt;
  if (auto e = index_.find(request_path)) return e;
  auto slash = request_path.rfind('/');
  std::string name = slash == std::string::npos ? request_path : request_path.substr(slash + 1);
  bool gz = name.ends_with("-minimal.bin.gz");
  if (!gz && !name.ends_with("-minimal.bin")) return std::nullopt;
  std::string dir = dir_of(request_path);
  for (auto& e : index_.all())
    if (dir_of(e.path) == dir && e.gzip == gz && e.build.ends_with("minimal")) return e;
  return std::nullopt;
}

}  // namespace fleet::firmware
