// SPDX-License-Identifier: BSD-3-Clause
// A fuzz target's committed corpus, replayed without libFuzzer: main() feeds
// every file named on the command line (every regular file of a directory,
// in name order) to the target's LLVMFuzzerTestOneInput, which aborts on any
// difference between an ISA and the scalar reference. Built with the plain
// compiler, so the corpora also run where libFuzzer does not: natively in
// every build, and in the AArch64 cross build under qemu at each SVE vector
// length (tests/CMakeLists.txt, fuzz_replay.* entries). It only replays; it
// does not mutate (tests/run --fuzz does that).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::filesystem::path> inputs_of(const std::filesystem::path& path) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(path)) {
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t replayed = 0;
  for (int k = 1; k < argc; ++k) {
    for (const std::filesystem::path& file : inputs_of(argv[k])) {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "cannot read %s\n", file.c_str());
        return 1;
      }
      const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++replayed;
    }
  }
  std::printf("replayed %zu inputs\n", replayed);
  // No input at all is a mistake (a corpus path that moved), not a pass.
  return replayed > 0 ? 0 : 1;
}
