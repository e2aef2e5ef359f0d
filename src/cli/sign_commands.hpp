#pragma once

#include <memory>

#include "base/log.hpp"
#include "base/status.hpp"

namespace CLI {
class App;
}

namespace oxide::cli {

// `oxide keys generate|rotate` and `oxide release sign`: the operator's offline side of signed
// releases (docs/format/release-metadata.md). Registered on the top-level app by cli_main.cpp;
// this keeps their options and code out of it.
class SignCommands {
 public:
  explicit SignCommands(CLI::App* app);
  ~SignCommands();
  SignCommands(const SignCommands&) = delete;
  SignCommands& operator=(const SignCommands&) = delete;

  // Adds -v/--verbose and --log-level (bound to *flags, which must outlive parsing) to each
  // leaf command, like every other command.
  void AddLogFlags(log::Flags* flags);

  // When `chosen` (the top-level subcommand parsed) is `keys` or `release`, runs it and returns
  // true with its status in *status; false otherwise.
  bool Run(CLI::App* chosen, Status* status) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace oxide::cli
