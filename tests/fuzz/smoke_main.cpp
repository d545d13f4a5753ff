// The fuzz smoke of the test command: every target of tests/fuzz in the normal build, without clang or
// libFuzzer. Each target's seeds are run as they are, then mutated (bit flips, random bytes, insertions,
// deletions, repeats, splices of two seeds, dictionary words) for a time budget. Not guided by coverage:
// it catches a parser that crashes, hangs or breaks its target's invariant on inputs near the seeds, in
// every CI run. scripts/fuzz.sh is the real fuzzer (coverage, sanitizers, as long as asked).
//   fuzz_smoke TARGET CORPUS_DIR [--dict FILE] [--max-len N] [--ms N | --runs N] [--seed N] [--artifacts DIR]
// The test command gives a seed and a number of runs, so a run is the same every time (a red CI names
// an input, not bad luck); a time and no seed explore further, each run new (FLEET_FUZZ_SEED replays one).
// An input that crashes (a signal, an abort, an uncaught exception) is written to the artifacts folder
// and named; run it again with `fuzz_smoke TARGET FILE`.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

using Entry = int (*)(const std::uint8_t*, std::size_t);
using Init = int (*)(int*, char***);

// Each target's entry points, renamed at compile time (tests/CMakeLists.txt) so all fit in one program.
#define FLEET_TARGET(name)                                                                  \
  extern "C" int fuzz_entry_##name(const std::uint8_t*, std::size_t);                       \
  extern "C" __attribute__((weak)) int fuzz_init_##name(int*, char***);
FLEET_TARGET(payloads)
FLEET_TARGET(topics)
FLEET_TARGET(inventory)
FLEET_TARGET(dmp)
FLEET_TARGET(settings_json)
FLEET_TARGET(unishox)
FLEET_TARGET(image)
FLEET_TARGET(catalog)
FLEET_TARGET(control)
FLEET_TARGET(ota_path)
#undef FLEET_TARGET

namespace {

struct Target {
  const char* name;
  Entry entry;
  Init init;
};

#define FLEET_TARGET(name) {#name, fuzz_entry_##name, fuzz_init_##name},
const Target kTargets[] = {FLEET_TARGET(payloads) FLEET_TARGET(topics) FLEET_TARGET(inventory) FLEET_TARGET(dmp)
                               FLEET_TARGET(settings_json) FLEET_TARGET(unishox) FLEET_TARGET(image) FLEET_TARGET(catalog)
                                   FLEET_TARGET(control) FLEET_TARGET(ota_path)};
#undef FLEET_TARGET

using Bytes = std::vector<std::uint8_t>;

// The input being run, for the signal handler: it writes it out with async-signal-safe calls only.
const Bytes* g_current = nullptr;
char g_crash_path[4096];

void on_crash(int sig) {
  int fd = ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0 && g_current) {
    ssize_t ignored = ::write(fd, g_current->data(), g_current->size());
    (void)ignored;
    ::close(fd);
  }
  const char msg[] = "\nfuzz_smoke: the input that crashed was written to ";
  ssize_t ignored = ::write(2, msg, sizeof msg - 1);
  ignored = ::write(2, g_crash_path, std::strlen(g_crash_path));
  ignored = ::write(2, "\n", 1);
  (void)ignored;
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

Bytes read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

// libFuzzer's dictionary format: one "word" per line (a name= before it optional), \\ \" and \xNN escapes.
std::vector<Bytes> read_dict(const std::string& path) {
  std::vector<Bytes> words;
  std::ifstream in(path);
  if (!in) {
    std::cerr << "fuzz_smoke: cannot read the dictionary " << path << "\n";
    std::exit(2);
  }
  for (std::string line; std::getline(in, line);) {
    auto open = line.find('"');
    auto close = line.rfind('"');
    if (line.empty() || line[0] == '#' || open == std::string::npos || close <= open) continue;
    Bytes word;
    for (std::size_t i = open + 1; i < close; ++i) {
      if (line[i] == '\\' && i + 1 < close) {
        if (line[i + 1] == 'x' && i + 3 < close) {
          word.push_back(static_cast<std::uint8_t>(std::stoi(line.substr(i + 2, 2), nullptr, 16)));
          i += 3;
        } else {
          word.push_back(static_cast<std::uint8_t>(line[++i]));
        }
      } else {
        word.push_back(static_cast<std::uint8_t>(line[i]));
      }
    }
    if (!word.empty()) words.push_back(std::move(word));
  }
  return words;
}

class Mutator {
 public:
  Mutator(std::uint32_t seed, std::size_t max_len, const std::vector<Bytes>& seeds, const std::vector<Bytes>& dict)
      : rng_(seed), max_len_(max_len), seeds_(seeds), dict_(dict) {}

  Bytes next() {
    Bytes b = seeds_[pick(seeds_.size())];
    int edits = 1 + static_cast<int>(pick(4));
    for (int i = 0; i < edits; ++i) edit(b);
    if (b.size() > max_len_) b.resize(max_len_);
    return b;
  }

 private:
  std::size_t pick(std::size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }

  void edit(Bytes& b) {
    static const std::uint8_t kInteresting[] = {0, 1, 0x7f, 0x80, 0xff, '"', '\\', '{', '}', '/', '\n', ' ', '0', '9', '-'};
    std::size_t at = pick(b.size() + 1);
    switch (pick(8)) {
      case 0:  // flip a bit
        if (!b.empty()) b[pick(b.size())] ^= static_cast<std::uint8_t>(1u << pick(8));
        break;
      case 1:  // a random byte
        if (!b.empty()) b[pick(b.size())] = static_cast<std::uint8_t>(pick(256));
        break;
      case 2:  // an interesting byte
        if (!b.empty()) b[pick(b.size())] = kInteresting[pick(sizeof kInteresting)];
        break;
      case 3: {  // insert random bytes
        std::size_t n = 1 + pick(8);
        for (std::size_t i = 0; i < n; ++i) b.insert(b.begin() + static_cast<long>(at), static_cast<std::uint8_t>(pick(256)));
        break;
      }
      case 4: {  // delete a range
        if (b.empty()) break;
        std::size_t from = pick(b.size()), n = 1 + pick(std::min<std::size_t>(b.size() - from, 64));
        b.erase(b.begin() + static_cast<long>(from), b.begin() + static_cast<long>(from + n));
        break;
      }
      case 5: {  // repeat a range
        if (b.empty()) break;
        std::size_t from = pick(b.size()), n = 1 + pick(std::min<std::size_t>(b.size() - from, 64));
        Bytes part(b.begin() + static_cast<long>(from), b.begin() + static_cast<long>(from + n));
        b.insert(b.begin() + static_cast<long>(at), part.begin(), part.end());
        break;
      }
      case 6: {  // splice: this one's head, another seed's tail
        const Bytes& other = seeds_[pick(seeds_.size())];
        std::size_t from = pick(other.size() + 1);
        b.resize(at);
        b.insert(b.end(), other.begin() + static_cast<long>(from), other.end());
        break;
      }
      default: {  // a dictionary word, inserted or written over
        if (dict_.empty()) {
          if (!b.empty()) b[pick(b.size())] = static_cast<std::uint8_t>(pick(256));
          break;
        }
        const Bytes& w = dict_[pick(dict_.size())];
        if (pick(2) == 0 && at + w.size() <= b.size()) {
          std::copy(w.begin(), w.end(), b.begin() + static_cast<long>(at));
        } else {
          b.insert(b.begin() + static_cast<long>(at), w.begin(), w.end());
        }
      }
    }
  }

  std::mt19937 rng_;
  std::size_t max_len_;
  const std::vector<Bytes>& seeds_;
  const std::vector<Bytes>& dict_;
};

int usage() {
  std::cerr << "usage: fuzz_smoke TARGET CORPUS_DIR|FILE [--dict FILE] [--max-len N] [--ms N | --runs N] [--seed N] [--artifacts DIR]\n"
               "targets:";
  for (auto& t : kTargets) std::cerr << " " << t.name;
  std::cerr << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const Target* target = nullptr;
  for (auto& t : kTargets)
    if (std::string(argv[1]) == t.name) target = &t;
  if (!target) return usage();
  std::filesystem::path corpus = argv[2];
  std::string dict_path, artifacts = ".";
  std::size_t max_len = 4096;
  long ms = 2000, runs_asked = 0;
  std::uint32_t seed = std::random_device{}();
  if (const char* s = std::getenv("FLEET_FUZZ_SEED")) seed = static_cast<std::uint32_t>(std::strtoul(s, nullptr, 10));
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--dict") dict_path = value;
    else if (flag == "--max-len") max_len = std::stoul(value);
    else if (flag == "--ms") ms = std::stol(value);
    else if (flag == "--runs") runs_asked = std::stol(value);
    else if (flag == "--seed") seed = static_cast<std::uint32_t>(std::stoul(value));
    else if (flag == "--artifacts") artifacts = value;
    else return usage();
  }
  if ((argc - 3) % 2 != 0) return usage();

  std::vector<Bytes> seeds;
  std::error_code ec;
  if (std::filesystem::is_directory(corpus, ec)) {
    for (auto& e : std::filesystem::directory_iterator(corpus))
      if (e.is_regular_file()) seeds.push_back(read_file(e.path()));
  } else if (std::filesystem::is_regular_file(corpus, ec)) {
    seeds.push_back(read_file(corpus));
    ms = runs_asked = 0;  // one file: run it, as libFuzzer does
  }
  if (seeds.empty()) {
    std::cerr << "fuzz_smoke: no seeds in " << corpus << "\n";
    return 2;
  }
  std::vector<Bytes> dict = dict_path.empty() ? std::vector<Bytes>{} : read_dict(dict_path);

  std::filesystem::create_directories(artifacts, ec);
  std::snprintf(g_crash_path, sizeof g_crash_path, "%s/crash-%s-seed-%u", artifacts.c_str(), target->name, seed);
  for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) ::signal(sig, on_crash);
  std::cerr << "fuzz_smoke " << target->name << ": " << seeds.size() << " seeds, "
            << (runs_asked > 0 ? std::to_string(runs_asked) + " mutated inputs" : std::to_string(ms) + " ms of mutations") << ", seed " << seed
            << " (FLEET_FUZZ_SEED=" << seed << " replays the same mutations)\n";
  int fake_argc = 1;
  char** fake_argv = argv;
  if (target->init) target->init(&fake_argc, &fake_argv);

  for (const Bytes& s : seeds) {
    g_current = &s;
    target->entry(s.data(), s.size());
  }
  Mutator mutate(seed, max_len, seeds, dict);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  long runs = 0;
  while (runs_asked > 0 ? runs < runs_asked : ms > 0 && std::chrono::steady_clock::now() < until) {
    Bytes input = mutate.next();
    g_current = &input;
    target->entry(input.data(), input.size());
    ++runs;
  }
  g_current = nullptr;
  std::cerr << "fuzz_smoke " << target->name << ": " << seeds.size() << " seeds and " << runs << " mutated inputs, no crash\n";
  return 0;
}
