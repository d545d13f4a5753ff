#pragma once
// A failure of our own at run time, not the caller's mistake (a port in use, a database that cannot be
// written): the command line exits 4 for it, keeping exit 2 for bad usage only.
#include <stdexcept>

namespace fleet::core {

struct RuntimeFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace fleet::core
