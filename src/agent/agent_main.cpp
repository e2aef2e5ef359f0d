// `oxide agent`: parses flags (CLI11 lives only in this file), wires the real services together,
// turns SIGTERM/SIGINT into a StopFlag request, and runs the loop.
#include "agent/agent_main.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <sstream>
#include <thread>

#include "agent/agent_config.hpp"
#include "agent/agent_loop.hpp"
#include "agent/control_plane_url.hpp"
#include "agent/device_secret.hpp"
#include "agent/inference_health_check.hpp"
#include "agent/progress_reporter.hpp"
#include "agent/transitions.hpp"
#include "base/exit_code.hpp"
#include "base/file_util.hpp"
#include "base/log.hpp"
#include "base/posix_file_system.hpp"
#include "base/stop_flag.hpp"
#include "crypto/key_file.hpp"
#include "flags/config_flags.hpp"
#include "http_client/curl_transport.hpp"

namespace oxide::agent {

namespace {

constexpr std::string_view kInferenceCheck = "builtin:inference";

struct Flags {
  std::string control_plane;
  std::string device_id;
  std::string enrollment_token;
  std::string enrollment_token_file;
  std::string model_dir = "/var/lib/oxide/models";
  std::string state_dir;  // default: <model_dir>/.oxide
  double poll_interval = 30;
  std::string health_check;
  double health_timeout = 30;
  uint32_t max_attempts = 3;
  bool once = false;
  uint64_t max_recv_speed = 0;
  long low_speed_time = 60;
  bool print_transitions = false;
  uint64_t max_window_mb = kDefaultMaxWindowMiB;
  std::string encryption_key_file;  // models encrypted at rest (docs/agent.md)
  std::string ca_file;
  bool allow_http = false;
  std::string trusted_keys;
  bool allow_unsigned_releases = false;
  std::string inventory_file;  // custom inventory attributes (JSON object of strings)
};

// Accepts CLI11's `key = value` (TOML/INI) files and flat JSON objects.
class ConfigFile final : public CLI::ConfigTOML {
 public:
  std::vector<CLI::ConfigItem> from_config(std::istream& in) const override {
    std::stringstream buf;
    buf << in.rdbuf();
    std::string text = buf.str();
    auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || text[first] != '{') {
      std::istringstream again(text);
      return CLI::ConfigTOML::from_config(again);
    }
    auto pairs = ParseJsonConfig(text);
    if (!pairs.ok()) throw CLI::ConversionError(pairs.status().message());
    std::vector<CLI::ConfigItem> result;
    for (auto& [key, value] : *pairs) {
      CLI::ConfigItem item;
      item.name = key;
      item.inputs = {value};
      result.push_back(std::move(item));
    }
    return result;
  }
};

void LogLine(const std::string& line) { log::Info(line); }

Clock::Duration Seconds(double s) {
  return std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(s));
}

// Blocks SIGTERM/SIGINT in every thread and turns them into stop->Request() on a sigwait
// thread: no signal handler, no global. SIGUSR2 from Stop() ends the thread.
class SignalWatcher {
 public:
  explicit SignalWatcher(StopFlag* stop) {
    sigemptyset(&set_);
    for (int sig : {SIGTERM, SIGINT, SIGUSR2}) sigaddset(&set_, sig);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    signal(SIGPIPE, SIG_IGN);
    thread_ = std::thread([this, stop] {
      for (;;) {
        int sig = 0;
        if (sigwait(&set_, &sig) != 0) continue;
        if (sig != SIGUSR2) {
          LogLine(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                  ", stopping");
        }
        stop->Request();
        if (sig == SIGUSR2) return;
      }
    });
  }
  ~SignalWatcher() {
    pthread_kill(thread_.native_handle(), SIGUSR2);
    thread_.join();
  }

 private:
  sigset_t set_;
  std::thread thread_;
};

bool SameFileSystem(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev;
}

}  // namespace

int AgentMain(const std::vector<std::string>& args) {
  CLI::App app("oxide agent: keeps this device's models up to date", "oxide agent");
  app.config_formatter(std::make_shared<ConfigFile>());
  app.set_config("--config", "",
                 "flags from a file: TOML (key = value, keys = long flag names) or one flat JSON "
                 "object; flags and OXIDE_<FLAG> environment variables override it");
  Flags f;
  log::Flags log_flags;
  app.add_flag("-v,--verbose", log_flags.verbose, "More detail on stderr (-vv: trace)");
  app.add_option("--log-level", log_flags.level, "Least severe level logged (default info)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_option("--log-format", log_flags.format, "text (one line per event) or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--control-plane", f.control_plane, "control-plane URL");
  app.add_option("--device-id", f.device_id, "this device's id");
  app.add_option("--enrollment-token-file", f.enrollment_token_file,
                 "file holding a fleet enrollment token (oxenr_...): accepted at once");
  app.add_option("--enrollment-token", f.enrollment_token,
                 "a fleet enrollment token (prefer --enrollment-token-file: argv is public)");
  app.add_option("--model-dir", f.model_dir, "where active models live (<dir>/<model_id>)")
      ->capture_default_str();
  app.add_option("--state-dir", f.state_dir, "agent state (default <model-dir>/.oxide)");
  app.add_option("--poll-interval", f.poll_interval, "seconds between heartbeats")
      ->capture_default_str();
  app.add_option("--health-check", f.health_check,
                 "command run after activation (sh -c), or builtin:inference (load, run the "
                 "golden inputs, check outputs and latency)");
  app.add_option("--health-timeout", f.health_timeout, "seconds before the check is killed")
      ->capture_default_str();
  app.add_option("--max-attempts", f.max_attempts, "failures before a version is refused")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_flag("--once", f.once, "one heartbeat and the work it brings, then exit");
  app.add_option("--max-window-mb", f.max_window_mb,
                 "largest patch decoder window (MiB); a patch needing more -> full download")
      ->capture_default_str();
  app.add_option("--encryption-key-file", f.encryption_key_file,
                 "keep installed models encrypted with this key (oxide enc-key generate)");
  app.add_option("--ca-file", f.ca_file,
                 "PEM CA certificate(s) that sign the control plane's HTTPS certificate "
                 "(default: the system's CAs)")
      ->check(CLI::ExistingFile);
  app.add_flag("--allow-http", f.allow_http,
               "accept a plain http:// control plane on a non-loopback host (unencrypted, "
               "unauthenticated: test networks only)");
  app.add_option("--trusted-keys", f.trusted_keys,
                 "release key set to trust (KEYS.keys.json from 'oxide keys generate')");
  app.add_flag("--allow-unsigned-releases", f.allow_unsigned_releases,
               "install releases without verifying a signature (not for production)");
  app.add_option("--inventory-file", f.inventory_file,
                 "JSON object of string attributes reported in the device's inventory "
                 "(re-read when it changes)");
  app.add_option("--max-recv-speed", f.max_recv_speed, "")->group("");
  app.add_option("--low-speed-time", f.low_speed_time, "")->group("");
  app.add_flag("--print-transitions", f.print_transitions, "")->group("");

  // Add new flags above: --config, OXIDE_* variables and --print-config cover them.
  std::vector<std::string> argv(args.begin() + std::min<size_t>(2, args.size()), args.end());
  if (int code =
          flags::ParseWithConfig(app, {"oxide agent", {"enrollment-token"}}, std::move(argv));
      code >= 0) {
    return code;
  }
  auto log_options = log_flags.ToOptions("oxide-agent");
  if (!log_options.ok()) {
    std::fprintf(stderr, "oxide agent: %s\n", log_options.status().ToString().c_str());
    return kExitUsage;
  }
  log::Setup(*log_options);
  if (f.print_transitions) {
    std::fputs(TransitionTableMarkdown().c_str(), stdout);
    return 0;
  }
  if (f.control_plane.empty() || f.device_id.empty()) {
    std::fprintf(stderr, "oxide agent: --control-plane and --device-id are required\n");
    return kExitUsage;
  }
  if (!IsSafeId(f.device_id)) {
    std::fprintf(stderr, "oxide agent: --device-id must be 1-128 of [A-Za-z0-9._-], not . or ..\n");
    return kExitUsage;
  }
  if (f.poll_interval < 0.1 || f.health_timeout <= 0) {
    std::fprintf(stderr,
                 "oxide agent: --poll-interval must be >= 0.1 s (use >= 1 s in "
                 "production), --health-timeout > 0\n");
    return kExitUsage;
  }
  // The model-aware check needs the inference component; refuse at once, not at the first update.
  std::unique_ptr<inference::Runtime> runtime;
  if (f.health_check == kInferenceCheck) {
    runtime = inference::MakeRuntime();
    if (runtime == nullptr) {
      std::fprintf(stderr,
                   "oxide agent: --health-check builtin:inference needs inference, and this agent "
                   "was built without it (OXIDE_WITH_INFERENCE=OFF)\n");
      return kExitUsage;
    }
    if (!f.encryption_key_file.empty()) {
      std::fprintf(stderr,
                   "oxide agent: --health-check builtin:inference cannot run models encrypted at "
                   "rest (--encryption-key-file)\n");
      return kExitUsage;
    }
  }
  auto max_window = MaxWindowBytes(f.max_window_mb);
  if (!max_window.ok()) {
    std::fprintf(stderr, "oxide agent: %s\n", max_window.status().message().c_str());
    return kExitUsage;
  }
  if (Status url = CheckControlPlaneUrl(f.control_plane, f.allow_http); !url.ok()) {
    std::fprintf(stderr, "oxide agent: %s\n", url.message().c_str());
    return kExitUsage;
  }
  if (f.trusted_keys.empty() && !f.allow_unsigned_releases) {
    std::fprintf(stderr,
                 "oxide agent: --trusted-keys FILE is required (the release key set devices "
                 "trust); --allow-unsigned-releases turns verification off\n");
    return kExitUsage;
  }
  std::string trusted_text;
  if (!f.trusted_keys.empty()) {
    auto text = ReadFileToString(f.trusted_keys, 1 << 20);
    if (!text.ok()) {
      std::fprintf(stderr, "oxide agent: --trusted-keys: %s\n", text.status().ToString().c_str());
      return kExitUsage;
    }
    trusted_text = std::move(text).value();
  }
  while (!f.control_plane.empty() && f.control_plane.back() == '/') f.control_plane.pop_back();
  if (f.state_dir.empty()) f.state_dir = f.model_dir + "/.oxide";

  std::shared_ptr<const crypto::EncryptionKey> at_rest_key;
  if (!f.encryption_key_file.empty()) {
    auto key = crypto::LoadKeyFile(f.encryption_key_file);  // refuses a key others can read
    if (!key.ok()) {
      std::fprintf(stderr, "oxide agent: %s\n", key.status().ToString().c_str());
      return ExitCodeFor(key.status().code());
    }
    at_rest_key = std::make_shared<const crypto::EncryptionKey>(*key);
  }

  StopFlag stop;
  SignalWatcher watcher(&stop);
  CurlGlobal curl_global;
  PosixFileSystem fs;
  for (const std::string& dir : {f.model_dir, f.state_dir}) {
    if (Status st = fs.CreateDirs(dir); !st.ok()) {
      std::fprintf(stderr, "oxide agent: %s\n", st.ToString().c_str());
      return ExitCodeFor(st.code());
    }
  }
  if (!SameFileSystem(f.model_dir, f.state_dir)) {
    std::fprintf(stderr,
                 "oxide agent: --state-dir must be on the same file system as "
                 "--model-dir (activation is a rename)\n");
    return kExitUsage;
  }
  // The device's credential, created once; without an enrollment token the device waits,
  // polling, until an operator accepts it.
  auto secret = LoadOrCreateDeviceSecret(fs, f.state_dir);
  if (!secret.ok()) {
    std::fprintf(stderr, "oxide agent: device secret: %s\n", secret.status().ToString().c_str());
    return ExitCodeFor(secret.status().code());
  }
  // Not the secret: what the server shows as credential_fingerprint, for the operator to compare
  // before accepting a pending device (another secret enrolled under this id would differ).
  log::Info("device credential fingerprint " + CredentialFingerprint(*secret) + " (device " +
            f.device_id + "; the server shows it as credential_fingerprint)");
  DeviceCredential credential{*secret, f.enrollment_token};
  if (!f.enrollment_token_file.empty()) {
    auto token = fs.ReadFile(f.enrollment_token_file, 4096);
    if (!token.ok()) {
      std::fprintf(stderr, "oxide agent: --enrollment-token-file: %s\n",
                   token.status().ToString().c_str());
      return kExitUsage;
    }
    credential.enrollment_token = *token;
    while (!credential.enrollment_token.empty() &&
           std::isspace(static_cast<unsigned char>(credential.enrollment_token.back()))) {
      credential.enrollment_token.pop_back();
    }
  }
  SystemClock clock(&stop);
  CurlOptions curl_options;
  curl_options.max_recv_speed = f.max_recv_speed;
  curl_options.ca_file = f.ca_file;
  curl_options.low_speed_time = std::chrono::seconds(std::max(1L, f.low_speed_time));
  CurlTransport transport(curl_options, &stop);
  ControlPlane control(transport, f.control_plane, f.device_id, f.device_id, credential);
  // Progress heartbeats go out from curl's write callback: never stall the download long.
  CurlOptions quick_options = curl_options;
  quick_options.connect_timeout = std::chrono::seconds(5);
  quick_options.request_timeout = std::chrono::seconds(5);
  CurlTransport quick_transport(quick_options, &stop);
  ControlPlane quick_control(quick_transport, f.control_plane, f.device_id, f.device_id,
                             credential);
  BuiltinHealthChecker builtin;
  CommandHealthChecker command(
      f.health_check, std::chrono::milliseconds(static_cast<int64_t>(f.health_timeout * 1000)),
      &stop);
  std::unique_ptr<InferenceHealthChecker> inference_check;
  if (runtime != nullptr)
    inference_check = std::make_unique<InferenceHealthChecker>(*runtime, clock);
  HealthChecker& health = inference_check          ? static_cast<HealthChecker&>(*inference_check)
                          : f.health_check.empty() ? static_cast<HealthChecker&>(builtin)
                                                   : static_cast<HealthChecker&>(command);

  AgentOptions options;
  options.pipeline.control_plane = f.control_plane;
  options.pipeline.device_id = f.device_id;
  options.pipeline.device_secret = *secret;
  options.pipeline.model_dir = f.model_dir;
  options.pipeline.state_dir = f.state_dir;
  options.pipeline.max_attempts = f.max_attempts;
  options.pipeline.max_window_bytes = *max_window;
  options.pipeline.fetch_golden = f.health_check == kInferenceCheck;  // nobody else reads it
  options.pipeline.should_stop = [&stop] { return stop.requested(); };
  options.pipeline.log = LogLine;
  options.pipeline.at_rest_key = at_rest_key;
  options.pipeline.at_rest_key_file = f.encryption_key_file;
  options.poll_interval = Seconds(f.poll_interval);
  options.once = f.once;
  ProgressBar bar(stderr, clock);
  ProgressLog progress_log(LogLine, clock);  // journald or a file: lines, not a redrawn bar
  if (::isatty(STDERR_FILENO)) {
    options.on_progress = [&bar](const UpdateRecord& r) { bar.Update(r); };
  } else {
    options.on_progress = [&progress_log](const UpdateRecord& r) { progress_log.Update(r); };
  }
  LogLine("device " + f.device_id + ", control plane " + f.control_plane + ", models in " +
          f.model_dir + ", state in " + f.state_dir + ", health check: " +
          (f.health_check.empty() ? "built-in (SHA-256 + format)" : f.health_check) +
          (at_rest_key ? ", models encrypted at rest (key id " + at_rest_key->IdHex() + ")" : ""));

  std::unique_ptr<ReleaseTrust> trust;
  if (!f.trusted_keys.empty()) {
    auto opened = ReleaseTrust::Open(fs, f.state_dir + "/.trusted-keys.json", trusted_text);
    if (!opened.ok()) {
      std::fprintf(stderr, "oxide agent: --trusted-keys %s: %s\n", f.trusted_keys.c_str(),
                   opened.status().ToString().c_str());
      return opened.status().code() == ErrorCode::kIo ? ExitCodeFor(ErrorCode::kIo) : kExitUsage;
    }
    trust = std::move(opened).value();
    options.trust = trust.get();
    LogLine("trusting release key set v" + std::to_string(trust->keys().version));
  } else {
    log::Warn("--allow-unsigned-releases: installing releases without verifying signatures");
  }
  PosixInventorySource inventory_source(f.model_dir, f.inventory_file);
  InventoryReporter inventory(inventory_source, LogLine);
  if (Status st = inventory.Load(); !st.ok()) {
    std::fprintf(stderr, "oxide agent: --inventory-file %s: %s\n", f.inventory_file.c_str(),
                 st.ToString().c_str());
    return kExitUsage;
  }
  options.inventory = &inventory;
  AgentLoop loop({fs, transport, health, clock, control, &quick_control}, std::move(options));
  Status st = loop.Recover();
  if (st.ok()) st = loop.Run();
  if (st.code() == ErrorCode::kCancelled) {
    LogLine("stopped; state saved");
    return kExitOk;
  }
  if (!st.ok()) {
    log::Error("exiting: " + st.ToString());
    return ExitCodeFor(st.code());
  }
  return kExitOk;
}

}  // namespace oxide::agent
