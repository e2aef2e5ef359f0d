#pragma once

// One way to configure `oxide serve` and `oxide agent`: every long flag can also come from an
// OXIDE_<FLAG_IN_UPPER_SNAKE> environment variable or from a TOML file (--config FILE, keys =
// flag names without the dashes). Precedence: flag > environment > file > default.
// --print-config writes the effective configuration as TOML (secrets left out) and exits 0;
// its output fed back as --config gives the same configuration.

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace oxide::flags {

struct ConfigSpec {
  std::string program;               // "oxide serve": the prefix of error lines
  std::vector<std::string> secrets;  // long names whose values are never printed
};

// "--max-upload-mb" → "OXIDE_MAX_UPLOAD_MB".
std::string EnvNameFor(const std::string& long_name);

// Adds --print-config, and --config unless `app` has one already (set_config with its own
// formatter), to `app` (call after every other option), then parses
// `args` (what follows the subcommand, in order). Returns -1 when the caller goes on, otherwise
// the exit code to return at once: 0 after --help or --print-config; kExitUsage after a usage
// error, a missing or unreadable file, or an unknown key (one line on stderr naming the key).
int ParseWithConfig(CLI::App& app, const ConfigSpec& spec, std::vector<std::string> args);

}  // namespace oxide::flags
