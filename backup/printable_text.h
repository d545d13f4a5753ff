#pragma once
// Text from a settings file as decode-config shows it: the bytes decoded as UTF-8 with every byte that is
// not part of a well-formed sequence dropped (surrogates, overlong forms, code points above U+10FFFF, cut
// off sequences: Python's errors='ignore'), then only printable characters kept, tab, newline and return
// aside (Python's str.isprintable: no control, format, separator other than space, private-use or
// non-character code points). Unassigned code points are kept: that would need the Unicode database,
// and they are valid UTF-8 that every output format takes.
#include <string>
#include <string_view>

namespace fleet::backup {

std::string printable_text(std::string_view bytes);

}  // namespace fleet::backup
