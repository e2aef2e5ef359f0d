#include "flags/config_flags.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "base/exit_code.hpp"

namespace oxide::flags {
namespace {

constexpr const char* kConfig = "config";
constexpr const char* kPrintConfig = "print-config";

bool IsOwn(const std::string& name) {
  return name == "help" || name == kConfig || name == kPrintConfig;
}

// True when `args` name the option (--name, --name=value, or -x possibly bundled as -vx).
bool OnCommandLine(const CLI::Option& opt, const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--") return false;
    for (const auto& l : opt.get_lnames()) {
      if (a == "--" + l || a.rfind("--" + l + "=", 0) == 0) return true;
    }
    if (a.size() >= 2 && a[0] == '-' && a[1] != '-') {
      for (const auto& s : opt.get_snames()) {
        if (a.find(s, 1) != std::string::npos) return true;
      }
    }
  }
  return false;
}

std::string Toml(const CLI::App& app, const ConfigSpec& spec) {
  std::string out = "# " + spec.program +
                    ": effective configuration (flag > OXIDE_* environment > --config file > "
                    "default)\n";
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_lnames().empty() || !opt->get_configurable()) continue;
    const std::string& name = opt->get_lnames().front();
    if (IsOwn(name)) continue;
    const bool set = opt->count() > 0;
    if (std::find(spec.secrets.begin(), spec.secrets.end(), name) != spec.secrets.end()) {
      out += "# " + name + (set ? ": set, not printed (a secret)\n" : ": not set (a secret)\n");
      continue;
    }
    std::string value;
    if (set) {
      value = CLI::detail::ini_join(opt->reduced_results());
    } else if (!opt->get_default_str().empty()) {
      value = CLI::detail::convert_arg_for_ini(opt->get_default_str());
    }
    if (value.empty()) {
      out += "# " + name + " (not set)\n";
    } else {
      out += name + " = " + value + "\n";
    }
  }
  return out;
}

}  // namespace

std::string EnvNameFor(const std::string& long_name) {
  std::string out = "OXIDE_";
  for (char c : long_name) {
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

int ParseWithConfig(CLI::App& app, const ConfigSpec& spec, std::vector<std::string> args) {
  bool print = false;
  app.add_flag("--print-config", print,
               "Print the effective configuration as TOML (secrets left out) and exit")
      ->configurable(false);
  if (app.get_config_ptr() == nullptr) {  // the caller may have its own (another formatter)
    app.set_config("--config", "",
                   "TOML file of options (keys: the long flag names, e.g. port = 8080); flags "
                   "and OXIDE_<FLAG> environment variables override it");
  }
  app.allow_config_extras(CLI::config_extras_mode::error);
  // An environment value goes in as if given first on the command line: the flag itself still
  // wins (it is not injected then), and a set option is not read from the file.
  std::vector<std::string> from_env;
  for (CLI::Option* opt : app.get_options()) {
    if (opt->get_lnames().empty() || IsOwn(opt->get_lnames().front())) continue;
    const std::string env = EnvNameFor(opt->get_lnames().front());
    opt->envname(env);  // shown by --help; CLI11 reads it too, after the file, only when unset
    const char* v = std::getenv(env.c_str());
    if (v == nullptr || OnCommandLine(*opt, args)) continue;
    from_env.push_back("--" + opt->get_lnames().front() + "=" + v);
  }
  args.insert(args.begin(), from_env.begin(), from_env.end());
  std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::ConfigError& e) {
    std::string what = e.what();
    const std::string extras = "INI was not able to parse ";
    if (what.rfind(extras, 0) == 0) {
      what = "unknown key '" + what.substr(extras.size()) + "' (keys are the long flag names)";
    }
    std::string file = app.get_config_ptr() != nullptr && app.get_config_ptr()->count() > 0
                           ? app.get_config_ptr()->as<std::string>()
                           : std::string();
    std::fprintf(stderr, "%s: --config %s: %s\n", spec.program.c_str(), file.c_str(), what.c_str());
    return kExitUsage;
  } catch (const CLI::FileError& e) {
    std::fprintf(stderr, "%s: --config: %s\n", spec.program.c_str(), e.what());
    return kExitUsage;
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;  // never CLI11's own 105-109
  }
  if (print) {
    std::fputs(Toml(app, spec).c_str(), stdout);
    return kExitOk;
  }
  return -1;
}

}  // namespace oxide::flags
