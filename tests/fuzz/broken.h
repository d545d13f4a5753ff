// What a fuzz target does when an invariant breaks: says which, then aborts (the crash libFuzzer and
// the smoke report, the input saved beside it).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace fleet::fuzz {

[[noreturn]] inline void broken(const std::string& what) {
  std::fprintf(stderr, "invariant broken: %.2000s\n", what.c_str());
  std::abort();
}

}  // namespace fleet::fuzz
