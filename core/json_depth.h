#pragma once
// Rejects absurd nesting before a JSON parser sees it: a hostile payload of 60,000 '[' must cost a scan,
// not the stack. For every parser of outside input (device payloads, control requests).
#include <string_view>

namespace fleet::core {

bool nesting_within(std::string_view text, int limit);

}  // namespace fleet::core
