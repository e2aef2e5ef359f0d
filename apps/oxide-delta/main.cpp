// `oxide-delta`: the offline delta tool alone (diff, patch, inspect, delta-bench), without the
// server and agent; small enough for build hosts and device images that only apply patches.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "base/exit_code.hpp"
#include "cli/cli_main.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  try {
    return oxide::cli::Main(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "oxide-delta: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "oxide-delta: internal error\n");
  }
  return oxide::kExitInternal;
}
