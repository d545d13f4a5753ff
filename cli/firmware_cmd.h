#pragma once
// tasmota-fleet firmware add | list | verify | fetch: the local firmware store from the command line.
#include <optional>
#include <string>
#include <vector>

#include "planner/catalog.h"

namespace fleet::cli {

struct FirmwareOptions {
  std::string db_path;
  std::string dir;       // the store's root folder
  std::string version;   // add
  std::string build;     // add
  std::string chip;      // add: empty = from the image
  std::string path;      // add: empty = where the catalog's URL scheme puts it
  std::string sha256;    // add: pin
  bool json = false;
};

int firmware_add(const FirmwareOptions& o, const planner::Catalog& catalog, const std::string& file);
int firmware_list(const FirmwareOptions& o);
int firmware_verify(const FirmwareOptions& o);

// Where the catalog's URL scheme puts an image of this version/build/chip (the same path below the OTA
// base and below the store's root).
std::string store_path_for(const planner::Catalog& catalog, const std::string& version, const std::string& build,
                           const std::string& chip, bool gzip);

}  // namespace fleet::cli
