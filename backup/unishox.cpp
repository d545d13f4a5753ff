#include "backup/unishox.h"

#include <array>
#include <cstring>
#include <utility>

namespace fleet::backup {
namespace {

// A code: `len` bits, right-aligned in `bits`, sent most significant first.
struct Code {
  std::uint32_t bits = 0;
  int len = 0;
};

constexpr Code join(Code a, Code b) { return {a.bits << b.len | b.bits, a.len + b.len}; }

// The character sets: a set is picked by an h-code (after the 2-bit switch, the v-code 0), a character
// in it by a v-code. 0 marks a position that is not a character. Tasmota reordered sets 3, 4 and 4A.
enum Set { kSet1, kSet1A, kSet1B, kSet2, kSet3, kSet4, kSet4A, kSets };
constexpr char kChars[kSets][11] = {
    {0, ' ', 'e', 0, 't', 'a', 'o', 'i', 'n', 's', 'r'},       {0, 'l', 'c', 'd', 'h', 'u', 'p', 'm', 'b', 'g', 'w'},
    {'f', 'y', 'v', 'k', 'q', 'j', 'x', 'z', 0, 0, 0},         {0, '9', '0', '1', '2', '3', '4', '5', '6', '7', '8'},
    {'.', ',', '-', '/', '?', '+', ' ', '(', ')', '$', '@'},   {';', '#', ':', '<', '^', '*', '"', '{', '}', '[', ']'},
    {'=', '%', '\'', '>', '&', '_', '!', '\\', '|', '~', '`'},
};

// v-codes 0..10 and h-codes (by Set); both are complete prefix codes of at most 5 bits.
constexpr Code kV[11] = {{0b00, 2},   {0b010, 3},  {0b011, 3},  {0b100, 3},   {0b1010, 4}, {0b1011, 4},
                         {0b1100, 4}, {0b1101, 4}, {0b1110, 4}, {0b11110, 5}, {0b11111, 5}};
constexpr Code kH[kSets] = {{0b10, 2}, {0b0, 1}, {0b110, 3}, {0b11100, 5}, {0b11101, 5}, {0b11110, 5}, {0b11111, 5}};

// What the v-codes mean besides characters: in Set1, 3 is binary (Tasmota reuses the Unicode code);
// in Set1B, 8 is LF, 9 repeats the last byte (was CRLF), 10 is the terminator.
constexpr int kVBinary = 3, kVLf = 8, kVRepeat = 9, kVTerm = 10;

constexpr Code kSwitch = kV[0];
constexpr Code switch_to(Set s) { return join(kSwitch, kH[s]); }
constexpr Code kUpper = switch_to(kSet1);                     // Set1 from Set1: next letter upper case
constexpr Code kCapsLock = join(kUpper, kUpper);              // twice: caps lock; once more: off
constexpr Code kBackToSet1 = kUpper;                          // from Set2 (sticky digits) or caps lock
constexpr Code kToSet2 = switch_to(kSet2);                    // sticky until kBackToSet1
constexpr Code kDict = join(switch_to(kSet1A), kV[0]);        // copy of earlier text: length, distance
constexpr Code kBinary = kV[kVBinary];                        // a count of 255 - byte follows
constexpr Code kTab = join(kUpper, kV[1]);                    // "upper case space"
constexpr Code kSpaceInSet2 = join(switch_to(kSet3), kV[6]);  // Set3's space, without leaving Set2
constexpr Code kLf = join(switch_to(kSet1B), kV[kVLf]);
constexpr Code kRepeat = join(switch_to(kSet1B), kV[kVRepeat]);  // count + 4 more of the last byte
constexpr Code kTerm = join(switch_to(kSet1B), kV[kVTerm]);      // its first bits pad the last byte

// Counts: an h-code picks how many bits follow (Set1's and Set1A's 5, then each next set's the next
// class; Set4A's is not used), each class starting where the previous one ends. The firmware writes
// Set1's code for the 5-bit class: Set1A's single 0 bit was the 2-bit class of Unishox 1.
constexpr Code kCountPrefix[5] = {kH[kSet1], kH[kSet1B], kH[kSet2], kH[kSet3], kH[kSet4]};
constexpr int kCountBits[5] = {5, 7, 9, 12, 16};

constexpr std::size_t kMinMatch = 5;  // NICE_LEN: a copy encodes length - 5 and distance - 4
constexpr std::uint8_t kEscape = 0x2A;

// The code of each printable character (32..126) in Set1 state without caps lock: a Set1 character is
// its v-code, another set's its switch, h-code and v-code; an upper-case letter is kUpper and the code
// of its lower-case letter. Space is Set1's.
constexpr std::size_t index_of(int c) { return static_cast<std::size_t>(c - 32); }
struct Printable {
  Code code;
  Set set = kSet1;
  int v = 0;
};
const std::array<Printable, 95>& printable() {
  static const std::array<Printable, 95> table = [] {
    std::array<Printable, 95> t{};
    for (int s = kSets - 1; s >= 0; --s)  // downwards, so that Set1's space wins over Set3's
      for (int v = 0; v < 11; ++v) {
        char c = kChars[s][v];
        if (c == 0) continue;
        Printable& p = t[index_of(c)];
        p.set = Set(s);
        p.v = v;
        p.code = s == kSet1 ? kV[v] : join(switch_to(Set(s)), kV[v]);
      }
    for (char c = 'A'; c <= 'Z'; ++c) {
      const Printable& lower = t[index_of(c + 32)];
      t[index_of(c)] = {join(kUpper, lower.code), lower.set, lower.v};
    }
    return t;
  }();
  return table;
}

class BitWriter {
 public:
  void put(Code c) {
    for (int i = c.len - 1; i >= 0; --i) {
      cur_ = std::uint8_t(cur_ << 1 | ((c.bits >> i) & 1u));
      if (++used_ == 8) flush();
    }
  }
  // Pads with the terminator's first bits, as the firmware does (none when on a byte boundary).
  std::string finish() {
    if (used_ > 0) put({kTerm.bits >> (kTerm.len - (8 - used_)), 8 - used_});
    return std::move(out_);
  }
  std::size_t size() const { return out_.size(); }

 private:
  // The firmware never writes a 0x00 byte (the stored rule is NUL terminated): 0x00 and the marker
  // itself go out as the marker followed by the byte + 1.
  void flush() {
    if (cur_ == 0 || cur_ == kEscape) {
      out_.push_back(char(kEscape));
      out_.push_back(char(cur_ + 1));
    } else {
      out_.push_back(char(cur_));
    }
    cur_ = 0;
    used_ = 0;
  }
  std::string out_;
  std::uint8_t cur_ = 0;
  int used_ = 0;
};

bool put_count(BitWriter& w, std::size_t n) {
  std::size_t base = 0;
  for (int i = 0; i < 5; ++i) {
    std::size_t span = std::size_t(1) << kCountBits[i];
    if (n < base + span) {
      w.put(kCountPrefix[i]);
      w.put({std::uint32_t(n - base), kCountBits[i]});
      return true;
    }
    base += span;
  }
  return false;  // above 70303: the firmware writes nothing, so such a text cannot be encoded
}

bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
// What Set2 (sticky after a digit) can write without going back to Set1.
bool fits_set2(unsigned char c) { return (c >= ' ' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~'); }

class BitReader {
 public:
  explicit BitReader(std::string_view in) : in_(in) {}
  // 0 or 1; -1 at the end of the data (or on a bad byte, which also sets bad()).
  int bit() {
    if (left_ == 0) {
      if (pos_ >= in_.size()) return -1;
      auto b = static_cast<unsigned char>(in_[pos_++]);
      if (b == kEscape) {
        if (pos_ >= in_.size()) return fail();
        b = static_cast<unsigned char>(in_[pos_++]);
        if (b != 0x01 && b != kEscape + 1) return fail();
        --b;
      } else if (b == 0) {
        return fail();
      }
      cur_ = b;
      left_ = 8;
    }
    --left_;
    return (cur_ >> left_) & 1;
  }
  // The index of the code of `codes` the next bits spell; -1 at the end of the data.
  template <std::size_t N>
  int code(const Code (&codes)[N]) {
    Code got;
    while (got.len < 5) {
      int b = bit();
      if (b < 0) return -1;
      got = join(got, {std::uint32_t(b), 1});
      for (std::size_t i = 0; i < N; ++i)
        if (codes[i].len == got.len && codes[i].bits == got.bits) return int(i);
    }
    return -1;  // not reached: both tables are complete
  }
  // A count; nullopt when cut off or not one the firmware writes.
  std::optional<std::size_t> count() {
    int h = code(kH);
    if (h < 0) return std::nullopt;
    int cls = h >= 1 ? h - 1 : 0;  // Set1's and Set1A's h-codes both mean 5 bits (see kCountPrefix)
    if (cls >= 5) return std::nullopt;
    std::size_t base = 0;
    for (int i = 0; i < cls; ++i) base += std::size_t(1) << kCountBits[i];
    std::size_t n = 0;
    for (int i = 0; i < kCountBits[cls]; ++i) {
      int b = bit();
      if (b < 0) return std::nullopt;
      n = n << 1 | std::size_t(b);
    }
    return base + n;
  }
  bool bad() const { return bad_; }

 private:
  int fail() {
    bad_ = true;
    pos_ = in_.size();
    return -1;
  }
  std::string_view in_;
  std::size_t pos_ = 0;
  unsigned char cur_ = 0;
  int left_ = 0;
  bool bad_ = false;
};

}  // namespace

std::optional<std::string> unishox_decompress(std::string_view compressed, std::size_t max_out) {
  BitReader r(compressed);
  std::string out;
  Set dstate = kSet1;
  bool caps = false;
  auto emit = [&](char c) {
    if (out.size() >= max_out) return false;
    out.push_back(c);
    return true;
  };
  auto binary = [&] {
    auto n = r.count();
    return n && emit(char((255 - *n) & 0xFF));
  };
  for (;;) {
    bool upper = caps;
    int v = r.code(kV);
    if (v < 0) break;
    int h = dstate;
    if (v == 0) {
      h = r.code(kH);
      if (h < 0) break;
      if (h == kSet1) {
        if (dstate != kSet1) {  // back from Set2
          dstate = kSet1;
          continue;
        }
        if (caps) {  // caps lock off
          caps = false;
          continue;
        }
        v = r.code(kV);  // upper case, or caps lock when the switch to Set1 comes twice
        if (v < 0) break;
        if (v == 0) {
          h = r.code(kH);
          if (h < 0) break;
          if (h == kSet1) {
            caps = true;
            continue;
          }
        }
        upper = true;
      } else if (h == kSet2) {
        dstate = kSet2;
        continue;
      }
      if (h != kSet1) {
        v = r.code(kV);
        if (v < 0) break;
      }
    }
    if (v == 0 && h == kSet1A) {
      if (upper) {
        if (!binary()) return std::nullopt;
        continue;
      }
      auto len = r.count();
      auto dist = r.count();
      if (!len || !dist) return std::nullopt;
      std::size_t n = *len + kMinMatch, back = *dist + kMinMatch - 1;
      if (back > out.size() || n > max_out - out.size()) return std::nullopt;
      for (std::size_t i = 0; i < n; ++i) out.push_back(out[out.size() - back]);  // byte by byte: may overlap
      continue;
    }
    if (h == kSet1 && v == kVBinary) {
      if (!binary()) return std::nullopt;
      continue;
    }
    char c = kChars[h][v];
    if (c >= 'a' && c <= 'z') {
      if (upper) c = char(c - 32);
    } else {
      if (upper && dstate == kSet1 && v == 1) c = '\t';
      if (h == kSet1B && v == kVLf) {
        if (!emit('\n')) return std::nullopt;
        continue;
      }
      if (h == kSet1B && v == kVRepeat) {
        auto n = r.count();
        if (!n || out.empty() || *n + 4 > max_out - out.size()) return std::nullopt;
        out.append(*n + 4, out.back());
        continue;
      }
      if (h == kSet1B && v == kVTerm) break;
    }
    if (c == 0 || !emit(c)) return std::nullopt;  // c == 0: a position no character has
  }
  if (r.bad()) return std::nullopt;
  return out;
}

std::optional<std::string> unishox_compress(std::string_view text, std::size_t max_out) {
  const auto& table = printable();
  const std::size_t n = text.size();
  auto at = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  BitWriter w;
  bool set2 = false, caps = false;
  auto back_to_set1 = [&] {
    if (set2 || caps) w.put(kBackToSet1);
    set2 = caps = false;
  };
  for (std::size_t l = 0; l < n;) {
    if (w.size() > max_out) return std::nullopt;  // the output only grows
    unsigned char c = at(l);

    // A run: this byte is the one before and the next three, and a byte follows those (l < len - 4).
    if (l > 0 && l + 4 < n && c == at(l - 1) && c == at(l + 1) && c == at(l + 2) && c == at(l + 3)) {
      std::size_t end = l + 4;
      while (end < n && at(end) == c) ++end;
      back_to_set1();
      w.put(kRepeat);
      if (!put_count(w, end - l - 4)) return std::nullopt;
      l = end;
      continue;
    }

    // The longest earlier copy of what follows, of at least 6 bytes, not reaching into itself; the
    // nearest wins a tie. The firmware does not look at the last four bytes.
    if (l + 4 < n) {
      std::size_t best_len = 0, best_from = 0;
      for (std::size_t j = l >= kMinMatch ? l - kMinMatch + 1 : 0; j-- > 0;) {
        std::size_t k = l;
        while (k < n && j + (k - l) < l && at(k) == at(j + (k - l))) ++k;
        if (k - l >= kMinMatch + 1 && k - l > best_len) {
          best_len = k - l;
          best_from = j;
        }
      }
      if (best_len > 0) {
        back_to_set1();
        w.put(kDict);
        if (!put_count(w, best_len - kMinMatch) || !put_count(w, l - best_from - (kMinMatch - 1))) return std::nullopt;
        l += best_len;
        continue;
      }
    }

    if (set2 && !fits_set2(c)) {
      set2 = false;
      w.put(kBackToSet1);
    }
    if (!is_upper(c) && caps) {
      caps = false;
      w.put(kBackToSet1);
    }
    if (c >= 32 && c <= 126) {
      // Caps lock when this and the next five bytes are upper-case letters.
      if (is_upper(c) && !caps && l + 5 < n) {
        bool run = true;
        for (std::size_t i = l; i <= l + 5 && run; ++i) run = is_upper(at(i));
        if (run) {
          w.put(kCapsLock);
          caps = true;
        }
      }
      const Printable& p = table[index_of(c)];
      if (!set2 && p.set == kSet2) {
        w.put(kToSet2);
        set2 = true;
      }
      if (set2 && c == ' ') {
        w.put(kSpaceInSet2);
      } else if (set2 && p.set == kSet2) {
        w.put(kV[p.v]);  // a digit in Set2 needs no switch
      } else if (caps && is_upper(c)) {
        w.put(table[index_of(c + 32)].code);
      } else {
        w.put(p.code);
      }
    } else if (c == '\n') {
      w.put(kLf);
    } else if (c == '\t') {
      w.put(kTab);  // the firmware's C code; decode-config's copy writes a tab as binary (see the tests)
    } else {
      w.put(kBinary);
      put_count(w, 255u - c);
    }
    ++l;
  }
  std::string out = w.finish();
  if (out.size() > max_out) return std::nullopt;
  return out;
}

std::optional<std::string> decode_stored_rule(const std::uint8_t* p, std::size_t n) {
  if (p == nullptr || n == 0) return std::string();
  auto c_string = [&](std::size_t from) {
    const void* nul = std::memchr(p + from, 0, n - from);
    return nul ? static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - p) : n;
  };
  if (p[0] != 0) return std::string(reinterpret_cast<const char*>(p), c_string(0));
  if (n < 2 || p[1] == 0) return std::string();  // empty rule
  // GetRule_decompress / DecompressNoAlloc: the compressed bytes up to their NUL, into a buffer of
  // p[1] * 8 + 3 bytes that must keep room for the NUL; the text ends at its first NUL.
  std::size_t end = c_string(2);
  if (end == n) return std::nullopt;  // not terminated inside the slot
  std::string_view data(reinterpret_cast<const char*>(p + 2), end - 2);
  auto text = unishox_decompress(data, std::size_t(p[1]) * 8 + 2);
  if (!text) return std::nullopt;
  text->resize(std::strlen(text->c_str()));
  return text;
}

std::optional<std::vector<std::uint8_t>> encode_stored_rule(std::string_view text, std::size_t slot, bool compress_allowed) {
  if (slot < 2 || text.find('\0') != std::string_view::npos) return std::nullopt;
  std::vector<std::uint8_t> out(slot, 0);
  // xdrv_10_rules.ino SetRule: a text of MAX_RULE_SIZE (the slot) bytes or more is compressed, one that
  // fits with its NUL is copied; an empty rule is two 0 bytes (so it does not read as compressed).
  if (text.size() < slot) {
    std::memcpy(out.data(), text.data(), text.size());
    return out;
  }
  if (!compress_allowed || slot < 4) return std::nullopt;
  // The length byte holds (length + 7) / 8 in a char: 2041 bytes and more would wrap to "empty".
  if ((text.size() + 7) / 8 > 255) return std::nullopt;
  // SetRule keeps a compressed rule when it is shorter than MAX_RULE_SIZE - 2 bytes: 0, length, data, NUL.
  auto packed = unishox_compress(text, slot - 3);
  if (!packed) return std::nullopt;
  out[1] = std::uint8_t((text.size() + 7) / 8);
  std::memcpy(out.data() + 2, packed->data(), packed->size());
  return out;
}

}  // namespace fleet::backup
