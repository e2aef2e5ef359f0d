// `oxide simulate`: parses flags (CLI11 lives only in this file), runs the fleet simulator and
// prints what it measured.
#include "simulate/simulate_main.hpp"

#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <thread>

#include "base/exit_code.hpp"
#include "base/stop_flag.hpp"
#include "flags/config_flags.hpp"
#include "http_client/curl_transport.hpp"
#include "simulate/fleet_simulator.hpp"
#include "simulate/http_multi.hpp"
#include "simulate/sim_options.hpp"

namespace oxide::simulate {

namespace {

// SIGINT/SIGTERM end the run early (the report is still printed): blocked in every thread and
// taken by sigwait on a thread of their own, so there is no handler and no global.
class StopOnSignal {
 public:
  explicit StopOnSignal(StopFlag* stop) {
    sigemptyset(&set_);
    for (int sig : {SIGTERM, SIGINT, SIGUSR2}) sigaddset(&set_, sig);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this, stop] {
      for (;;) {
        int sig = 0;
        if (sigwait(&set_, &sig) != 0) continue;
        stop->Request();
        if (sig == SIGUSR2) return;  // from the destructor
      }
    });
  }
  ~StopOnSignal() {
    pthread_kill(thread_.native_handle(), SIGUSR2);
    thread_.join();
  }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

 private:
  sigset_t set_;
  std::thread thread_;
};

}  // namespace

int SimulateMain(const std::vector<std::string>& args) {
  CLI::App app(
      "oxide simulate: many simulated devices in one process against a control plane (load and "
      "capacity tests)",
      "oxide simulate");
  SimOptions o;
  bool verbose = false;
  std::string log_level;
  app.add_flag("-v,--verbose", verbose, "(accepted for symmetry; the report is the output)");
  app.add_option("--log-level", log_level, "(accepted for symmetry)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_option("--control-plane", o.control_planes,
                 "control-plane URL; repeat it to spread devices round-robin over replicas")
      ->take_all();
  app.add_option("--devices", o.devices, "simulated devices")->capture_default_str();
  app.add_option("--poll-interval", o.poll_interval_s,
                 "seconds between one device's heartbeats (± 10 % jitter)");
  app.add_option("--duration", o.duration_s, "seconds to run")->capture_default_str();
  app.add_option("--download-fraction", o.download_fraction,
                 "fraction of assigned devices that download and verify (the rest report the "
                 "install at once)")
      ->capture_default_str();
  app.add_option("--fail-fraction", o.fail_fraction,
                 "fraction of devices that report a failure instead of installing")
      ->capture_default_str();
  app.add_option("--enrollment-token", o.enrollment_tokens,
                 "a fleet enrollment token (oxenr_...): devices are accepted into its fleet; "
                 "repeat it to spread devices round-robin over several fleets")
      ->take_all();
  app.add_option("--fleet", o.fleet, "device id prefix: ids are <fleet>-<run id>-<n>")
      ->capture_default_str();
  app.add_option("--concurrency", o.concurrency, "requests (and connections) in flight at most")
      ->capture_default_str();
  app.add_flag("--json", o.json, "one JSON object on stdout instead of the table");
  app.add_option("--seed", o.seed, "")->group("");  // reproducible runs (ids, jitter, fractions)

  std::vector<std::string> argv(args.begin() + std::min<size_t>(2, args.size()), args.end());
  if (int code =
          flags::ParseWithConfig(app, {"oxide simulate", {"enrollment-token"}}, std::move(argv));
      code >= 0) {
    return code;
  }
  if (o.devices == 0 || o.poll_interval_s == 0) {
    std::fprintf(stderr,
                 "oxide simulate: --control-plane, --devices and --poll-interval are "
                 "required\n");
    return kExitUsage;
  }
  if (Status st = Validate(o); !st.ok()) {
    std::fprintf(stderr, "oxide simulate: %s\n", st.message().c_str());
    return kExitUsage;
  }
  signal(SIGPIPE, SIG_IGN);
  CurlGlobal curl_global;
  auto http = HttpMulti::Create(o.concurrency);
  if (!http.ok()) {
    std::fprintf(stderr, "oxide simulate: %s\n", http.status().ToString().c_str());
    return kExitFailure;
  }
  StopFlag stop;
  StopOnSignal watcher(&stop);
  SimStats stats = RunSimulation(o, **http, &stop);
  const std::string out = o.json ? RenderJson(stats) + "\n" : RenderText(stats);
  std::fputs(out.c_str(), stdout);
  return stats.error_count() == 0 ? kExitOk : kExitFailure;
}

}  // namespace oxide::simulate
