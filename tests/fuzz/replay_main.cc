// fuzz_replay TARGET PATH...: runs every file under each PATH (a file or a directory, not
// recursive) through TARGET once. A crash or a broken invariant kills the process, so a ctest
// entry over the seed corpus and the regression inputs fails when a fixed bug comes back.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: fuzz_replay TARGET PATH...\n";
    return 2;
  }
  const medgemma::fuzz::TargetFn target = medgemma::fuzz::FindTarget(argv[1]);
  if (target == nullptr) {
    std::cerr << "no fuzz target named " << argv[1] << "\n";
    return 2;
  }
  std::vector<fs::path> inputs;
  for (int i = 2; i < argc; ++i) {
    const fs::path path = argv[i];
    if (fs::is_directory(path)) {
      for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.is_regular_file()) inputs.push_back(entry.path());
      }
    } else if (fs::is_regular_file(path)) {
      inputs.push_back(path);
    } else if (!fs::exists(path)) {
      std::cerr << path << " does not exist\n";
      return 2;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  if (inputs.empty()) {
    std::cerr << "no inputs to replay\n";
    return 2;
  }
  for (const fs::path& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    std::cerr << "replaying " << path.filename().string() << "\n";
    target(bytes.str());
  }
  std::cout << argv[1] << ": " << inputs.size() << " inputs replayed\n";
  return 0;
}
