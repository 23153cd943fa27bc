// Seed corpora for the fuzzers: each fuzzer knows how to build a few small
// valid inputs of its own format. Run a fuzzer with
// SHOAL_FUZZ_WRITE_SEEDS=<dir> and it writes them to <dir> and exits
// instead of fuzzing (tests/fuzz/make_corpus.sh does this for all).
#ifndef SHOAL_TESTS_FUZZ_FUZZ_SEEDS_H_
#define SHOAL_TESTS_FUZZ_FUZZ_SEEDS_H_

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace shoal {
namespace fuzz {

// (file name, contents) of each seed.
using Seeds = std::vector<std::pair<std::string, std::string>>;

// When SHOAL_FUZZ_WRITE_SEEDS names a directory, writes make_seeds()'s
// seeds there and exits the process; otherwise does nothing.
inline void WriteSeedsIfAsked(const std::function<Seeds()>& make_seeds) {
  const char* dir = std::getenv("SHOAL_FUZZ_WRITE_SEEDS");
  if (dir == nullptr || *dir == '\0') return;
  for (const auto& [name, contents] : make_seeds()) {
    const std::string path = std::string(dir) + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    if (!out.good()) {
      std::fprintf(stderr, "cannot write seed %s\n", path.c_str());
      std::exit(1);
    }
  }
  std::exit(0);
}

}  // namespace fuzz
}  // namespace shoal

#endif  // SHOAL_TESTS_FUZZ_FUZZ_SEEDS_H_
