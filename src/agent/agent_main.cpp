#include "agent/agent_main.hpp"

#include <cstdio>

namespace oxide::agent {

int AgentMain(const std::vector<std::string>&) {
  std::fprintf(stderr, "oxide agent: not built yet (issue #4)\n");
  return 2;
}

}  // namespace oxide::agent
