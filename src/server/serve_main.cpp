#include "server/serve_main.hpp"

#include <cstdio>

namespace oxide::server {

int ServeMain(const std::vector<std::string>&) {
  std::fprintf(stderr, "oxide serve: not built yet (issue #3)\n");
  return 2;
}

}  // namespace oxide::server
