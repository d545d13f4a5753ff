#pragma once
// The local firmware store: a folder laid out like Tasmota's OTA server (tasmota/release-9.1.0/…,
// tasmota32/…, github/…) plus an index with version, build, chip, size and SHA-256. Nothing enters it
// unchecked: an image is validated, hashed and written under a temporary name, then renamed, so a
// crash or a bad download never leaves a partial file under a real name.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "firmware/firmware_index.h"
#include "firmware/image.h"

namespace fleet::firmware {

struct AddRequest {
  std::string path;     // where below the root (planner::Catalog::image_path)
  std::string version;
  std::string build;
  planner::Chip chip = planner::Chip::Unknown;  // Unknown: take it from the image
  std::string source;
  std::optional<std::string> expect_sha256;     // pinned: refuse anything else
};

struct AddResult {
  std::optional<FirmwareEntry> entry;
  std::string error;
  bool ok() const { return entry.has_value(); }
};

struct VerifyProblem {
  std::string path;
  std::string problem;  // "missing", "SHA-256 mismatch: index a1b2…, file c3d4…", "size …"
};

class FirmwareStore {
 public:
  FirmwareStore(std::string root, FirmwareIndex& index);
  const std::string& root() const { return root_; }

  AddResult add(std::span<const std::uint8_t> bytes, const AddRequest& request, std::int64_t now_ms);
  AddResult add_file(const std::string& file, const AddRequest& request, std::int64_t now_ms);
  std::vector<FirmwareEntry> list() { return index_.all(); }
  std::vector<VerifyProblem> verify();

  // The file a device asked for. Only indexed files are served; a missing NAME-minimal.bin[.gz] is
  // answered with the minimal image of the same folder, the way Tasmota asks for it (tasmota-facts.md).
  // Request paths with "..", backslashes, control bytes or a leading "/" are never resolved.
  std::optional<FirmwareEntry> resolve(const std::string& request_path);
  std::string file_of(const FirmwareEntry& entry) const { return root_ + "/" + entry.path; }

  static bool safe_relative_path(const std::string& path);

 private:
  std::string root_;
  FirmwareIndex& index_;
};

}  // namespace fleet::firmware
