// `oxide serve`: parses flags (CLI11 lives only in this TU) and wires store, services, patch
// worker, router and HTTP server together. Nothing else.
#include "server/serve_main.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>

#include "base/exit_code.hpp"
#include "base/file_util.hpp"
#include "base/log.hpp"
#include "base/posix_file_system.hpp"
#include "flags/config_flags.hpp"
#include "server/api/router.hpp"
#include "server/auth/auth_service.hpp"
#include "server/auth/authenticator.hpp"
#include "server/metrics.hpp"
#include "server/net/http_server.hpp"
#include "server/service/blob_maintenance.hpp"
#include "server/service/event_relay.hpp"
#include "server/service/instance_id.hpp"
#include "server/service/offline_sweeper.hpp"
#include "server/service/patch_worker.hpp"
#include "server/service/stats_service.hpp"
#include "store/open_store.hpp"
#ifdef OXIDE_HAVE_DELTA_BUILD
#include "server/service/delta_patch_build.hpp"
#endif

namespace oxide::server {
namespace {

struct ServeFlags {
  std::string host = "0.0.0.0";
  uint16_t port = 8080;
  std::string data_dir = "./oxide-data";
  std::string database;  // "" = SQLite <data_dir>/oxide.db
  int threads = 2;
  int patch_threads = 2;
  bool first_install_patches = true;
  uint32_t offline_after = 90;
  uint32_t poll_interval = 0;
  uint64_t max_upload_mb = 4096;
  size_t max_connections = 10'000;
  size_t max_connections_per_address = 256;
  uint32_t header_timeout = 10;
  // Requests per second (0 = unlimited); each bucket holds a burst of a few seconds' worth.
  double heartbeat_rate_device = 10;
  double heartbeat_rate_address = 200;
  double auth_rate_address = 2;
  std::string tls_cert;
  std::string tls_key;
  double price_per_gb = 0;  // the bandwidth chart's price of 10^9 bytes served
  std::string currency = "USD";
  size_t event_history = 4096;
  size_t max_event_streams = 256;
  std::string instance_id;  // "": DefaultInstanceId() (hostname:pid:random:pid namespace)
};

// Burst = `seconds` worth of the rate (at least 1 request).
net::RateLimit Limit(double per_second, double seconds) {
  return net::RateLimit{per_second, std::max(1.0, per_second * seconds)};
}

// 1,000 concurrent downloads need 2 fds each (socket + blob); lift the soft limit to the hard one.
void RaiseFdLimit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);  // best effort: the server still runs with fewer
  }
}

int Serve(const ServeFlags& f, log::Level log_level) {
  auto fail = [](const Status& st) {
    log::Error(st.ToString());
    return ExitCodeFor(st.code());
  };
  std::error_code ec;
  std::filesystem::create_directories(f.data_dir, ec);
  if (ec) return fail(IoError("create " + f.data_dir + ": " + ec.message()));
  RaiseFdLimit();

  SystemClock clock;
  PosixFileSystem fs;
  auto blobs = BlobStore::Open(fs, clock, f.data_dir + "/blobs");
  if (!blobs.ok()) return fail(blobs.status());
  auto store = store::OpenStore(f.database, f.data_dir);
  if (!store.ok()) return fail(store.status());
  log::Info("opened the store", {{"database", store::DescribeDatabase(f.database, f.data_dir)}});
  const std::string instance_id = f.instance_id.empty() ? DefaultInstanceId() : f.instance_id;

  ServiceOptions options;
  options.offline_after_ms = store::TimeMs{f.offline_after} * 1000;
  options.poll_interval_seconds = f.poll_interval;
  EventBus events(clock, EventBusOptions{f.event_history, 1024, f.max_event_streams, ""});
  // Every replica on this database streams the same events with the same ids (issue #12).
  if (Status st = events.AttachLog((*store)->event_log()); !st.ok()) return fail(st);
  EventRelay relay(
      events, (*store)->event_log(),
      EventRelayOptions{std::chrono::milliseconds(150), std::max<size_t>(f.event_history, 10'000),
                        std::chrono::seconds(60)});
  relay.Start();
  ModelService models(**store, **blobs, clock);
  models.SetFirstInstallPatches(f.first_install_patches);
  CampaignService campaigns(**store, clock, models);
  DeviceService devices(**store, clock, options, campaigns);
  FleetService fleets(**store, clock, devices);
  HeartbeatService heartbeats(**store, clock, campaigns, options);
  Metrics metrics;
  heartbeats.SetMetrics(&metrics);
  StatsService stats(**store, clock, options, BandwidthPricing{f.price_per_gb, f.currency});
  auth::AuthService auth(**store, clock, fleets);
  auth::Authenticator authenticator(**store, clock);
  // Accepted device credentials, so a heartbeat skips the hash and the store read; every path
  // that changes a credential invalidates it (a revoke on another replica: within the TTL).
  auth::DeviceCredentialCache credentials(clock);
  authenticator.SetCredentialCache(&credentials);
  auth.SetCredentialCache(&credentials);
  devices.SetCredentialCache(&credentials);
  campaigns.SetEvents(&events);
  devices.SetEvents(&events);
  heartbeats.SetEvents(&events);
  auth.SetEvents(&events, options.offline_after_ms);
  // First start: an admin token, written once to a private file and never logged.
  const std::string token_file = f.data_dir + "/admin.token";
  auto admin = auth.CreateInitialAdmin(
      [&](const std::string& token) { return AtomicWriteFile(token_file, token + "\n", 0600); });
  if (!admin.ok()) return fail(admin.status());
  if (admin->has_value()) log::Info("created the initial admin token", {{"file", token_file}});
  // Orphan blobs (refused or interrupted uploads, crashes between publish and record) are
  // removed now, before the patch worker or any request can publish one, and then every hour;
  // every blob is re-hashed daily.
  BlobMaintenance maintenance(models, BlobMaintenanceOptions{});
  Status gc = maintenance.CollectAtStartup();
  static_cast<void>(gc);  // logged; a failed GC never stops the server
#ifdef OXIDE_HAVE_DELTA_BUILD
  PatchWorker worker(**store, **blobs, clock, MakeDeltaPatchBuilder(f.patch_threads));
  worker.SetMetrics(&metrics);
  worker.SetLease(PatchLeaseOptions{instance_id, 60'000, std::chrono::seconds(20)});
  models.SetPatchListener([&worker] { worker.Notify(); });
  worker.SetEvents(&events);
  worker.Start();
#else
  log::Warn("built without the patch builder: serving full files only");
#endif
  maintenance.Start();
  // device.changed "offline" as devices cross --offline-after (checked every 5 s).
  OfflineSweeper sweeper(**store, clock, events, OfflineSweeperOptions{options.offline_after_ms});
  sweeper.Start();

  api::ApiLimits limits;
  limits.max_upload = f.max_upload_mb << 20;
  ReleaseService releases(**store, clock);
  api::ApiDeps deps{devices, fleets,  models, campaigns, heartbeats,
                    **blobs, metrics, limits, auth,      authenticator};
  deps.releases = &releases;
  deps.stats = &stats;
  deps.events = &events;
  api::Router router(deps);
  net::HttpServerOptions http;
  http.host = f.host;
  http.port = f.port;
  http.threads = f.threads;
  http.max_sessions = f.max_connections;
  http.max_sessions_per_address = f.max_connections_per_address;
  http.header_timeout = std::chrono::seconds(f.header_timeout);
  http.rate_limits.heartbeat_per_device = Limit(f.heartbeat_rate_device, 5);
  http.rate_limits.heartbeat_per_address = Limit(f.heartbeat_rate_address, 5);
  http.rate_limits.auth_per_address = Limit(f.auth_rate_address, 50);
  http.tls_cert_file = f.tls_cert;
  http.tls_key_file = f.tls_key;
  {
    net::HttpServer server(router, **blobs, http);
    Status st = server.Listen();
    if (!st.ok()) return fail(st);
    const std::string scheme = server.tls() ? "https" : "http";
    std::printf("oxide serve listening on %s://%s:%u (data dir %s)\n", scheme.c_str(),
                f.host.c_str(), static_cast<unsigned>(server.port()), f.data_dir.c_str());
    std::fflush(stdout);
    log::Info("listening", {{"url", scheme + "://" + f.host + ":" + std::to_string(server.port())},
                            {"data_dir", f.data_dir},
                            {"instance", instance_id},
                            {"log_level", log::ToString(log_level)}});
    server.RunUntilSignal();
    log::Info("stopping");
  }  // the server (and any in-flight accounting) goes before the services it calls
  sweeper.Stop();
  maintenance.Stop();
#ifdef OXIDE_HAVE_DELTA_BUILD
  worker.Stop();
#endif
  relay.Stop();  // after every publisher: their last events reach the log
  std::printf("oxide serve: stopped\n");
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace

int ServeMain(const std::vector<std::string>& args) {
  CLI::App app{"oxide serve: the Oxide control plane (HTTP API, model store, rollouts)"};
  app.name("oxide serve");
  app.footer("Logs one line per request, patch build and campaign change on stderr.");
  ServeFlags f;
  log::Flags log_flags;
  app.add_flag("-v,--verbose", log_flags.verbose, "More detail on stderr (-vv: trace)");
  app.add_option("--log-level", log_flags.level, "Least severe level logged (default info)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_option("--log-format", log_flags.format, "text (one line per event) or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--host", f.host, "IP address to listen on")->capture_default_str();
  app.add_option("--port", f.port, "TCP port (0 = any free port)")->capture_default_str();
  app.add_option("--data-dir", f.data_dir,
                 "Blob directory (shared by replicas), and the SQLite database by default")
      ->capture_default_str();
  app.add_option("--database", f.database,
                 "Metadata store: a SQLite path, sqlite:PATH, or postgresql://user@host/db "
                 "(default: SQLite <data-dir>/oxide.db)");
  app.add_option("--instance-id", f.instance_id,
                 "This replica's name in patch-job leases (default hostname:pid:<8 hex "
                 "random>:ns<pid namespace>)");
  app.add_option("--threads", f.threads, "HTTP I/O threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--patch-threads", f.patch_threads, "Threads per patch build")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  app.add_option("--first-install-patches", f.first_install_patches,
                 "Prepare each version as a patch from the empty base for devices without a "
                 "usable base (one more build and blob per version)")
      ->capture_default_str();
  app.add_option("--offline-after", f.offline_after, "Seconds without heartbeat before offline")
      ->check(CLI::Range(1u, 86400u))
      ->capture_default_str();
  app.add_option("--poll-interval", f.poll_interval,
                 "Poll interval sent to agents in seconds (0 = agent default)")
      ->capture_default_str();
  app.add_option("--max-upload-mb", f.max_upload_mb, "Largest model upload in MiB")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--max-connections", f.max_connections,
                 "Concurrent HTTP connections; beyond, new ones are closed at once")
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--max-connections-per-address", f.max_connections_per_address,
                 "Concurrent connections from one client address (0 = unlimited)")
      ->capture_default_str();
  app.add_option("--header-timeout", f.header_timeout,
                 "Seconds a connection may take to send a request header (and to send its "
                 "first request at all)")
      ->check(CLI::Range(1u, 3600u))
      ->capture_default_str();
  app.add_option("--event-history", f.event_history, "Events kept for resuming /api/v1/events")
      ->check(CLI::Range(size_t{0}, size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--max-event-streams", f.max_event_streams,
                 "Open /api/v1/events streams; beyond, 503")
      ->check(CLI::Range(size_t{1}, size_t{100'000}))
      ->capture_default_str();
  auto* cert = app.add_option("--tls-cert", f.tls_cert,
                              "Serve HTTPS with this PEM certificate chain (leaf first)")
                   ->check(CLI::ExistingFile);
  auto* key = app.add_option("--tls-key", f.tls_key, "The PEM private key of --tls-cert")
                  ->check(CLI::ExistingFile);
  cert->needs(key);
  key->needs(cert);
  app.add_option("--heartbeat-rate-per-device", f.heartbeat_rate_device,
                 "Heartbeats per second one device id may send (burst: 5 s worth; 0 = off)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--heartbeat-rate-per-address", f.heartbeat_rate_address,
                 "Heartbeats per second from one client address (burst: 5 s worth; 0 = off)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--auth-rate-per-address", f.auth_rate_address,
                 "Enrollments and 401s per second from one client address (burst: 50 s worth; "
                 "0 = off)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--price-per-gb", f.price_per_gb,
                 "Price of 10^9 bytes served, for GET /api/v1/stats/bandwidth (0 = no price)")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  app.add_option("--currency", f.currency, "Currency code of --price-per-gb")
      ->capture_default_str();
  // Add new flags above: --config, OXIDE_* variables and --print-config cover them.
  std::vector<std::string> rest(args.begin() + std::min<size_t>(2, args.size()), args.end());
  if (int code = flags::ParseWithConfig(app, {"oxide serve", {"database"}}, std::move(rest));
      code >= 0) {
    return code;
  }
  // A positive rate this small would make Retry-After overflow: 0 (off) or at least 1/1000 s.
  for (double rate : {f.heartbeat_rate_device, f.heartbeat_rate_address, f.auth_rate_address}) {
    if (rate != 0 && rate < 1e-3) {
      std::fprintf(stderr, "oxide serve: a rate limit is 0 (off) or at least 0.001 per second\n");
      return kExitUsage;
    }
  }
  auto log_options = log_flags.ToOptions("oxide serve");
  if (!log_options.ok()) {
    std::fprintf(stderr, "oxide serve: %s\n", log_options.status().ToString().c_str());
    return kExitUsage;
  }
  log::Setup(*log_options);
  return Serve(f, log_options->level);
}

}  // namespace oxide::server
