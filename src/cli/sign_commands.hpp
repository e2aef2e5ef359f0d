#pragma once

#include <memory>

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

  // When `chosen` (the top-level subcommand parsed) is `keys` or `release`, runs it and returns
  // true with its status in *status; false otherwise.
  bool Run(CLI::App* chosen, Status* status) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace oxide::cli
