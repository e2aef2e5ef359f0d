#pragma once

#include <memory>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace oxide::cli::admin {

// The admin commands on the top-level app: `oxide device|fleet|model|campaign|deploy|token`,
// each with the global options --server, --token-file, --ca-file, --config and --json (given
// before or after the subcommand). Registered by cli_main.cpp; this keeps them out of it.
class AdminCli {
 public:
  explicit AdminCli(CLI::App* app);
  ~AdminCli();
  AdminCli(const AdminCli&) = delete;
  AdminCli& operator=(const AdminCli&) = delete;

  // When `chosen` (the top-level subcommand parsed) is an admin command, runs it and returns
  // its exit code; nullopt otherwise. `program` prefixes error lines.
  std::optional<int> Run(CLI::App* chosen, const std::string& program) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace oxide::cli::admin
