// The one `oxide` binary: wires the subcommand entry points together and nothing else.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "agent/agent_main.hpp"
#include "base/exit_code.hpp"
#include "cli/cli_main.hpp"
#include "server/serve_main.hpp"
#include "simulate/simulate_main.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  try {
    return oxide::cli::Main(
        args, {{"serve", "Run the control plane: model store, patches, devices, fleets, campaigns",
                oxide::server::ServeMain},
               {"agent", "Run the device agent: download, patch, verify, switch, roll back",
                oxide::agent::AgentMain},
               {"simulate", "Run many simulated devices against a control plane (load tests)",
                oxide::simulate::SimulateMain}});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "oxide: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "oxide: internal error\n");
  }
  return oxide::kExitInternal;
}
