#include "cli/cli_main.hpp"

#include <cstdio>

namespace oxide::cli {

int Main(const std::vector<std::string>&) {
  std::fprintf(stderr, "oxide: usage: oxide <diff|patch|inspect|delta-bench|serve|agent> ...\n");
  return 2;
}

}  // namespace oxide::cli
