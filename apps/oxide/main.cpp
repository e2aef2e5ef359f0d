// The one `oxide` binary: wires the subcommand entry points together and nothing else.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "agent/agent_main.hpp"
#include "cli/cli_main.hpp"
#include "server/serve_main.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  try {
    if (args.size() >= 2 && args[1] == "serve") return oxide::server::ServeMain(args);
    if (args.size() >= 2 && args[1] == "agent") return oxide::agent::AgentMain(args);
    return oxide::cli::Main(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "oxide: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "oxide: internal error\n");
  }
  return 70;
}
