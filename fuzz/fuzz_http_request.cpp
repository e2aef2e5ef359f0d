// libFuzzer harness: arbitrary bytes as an HTTP request, through what a connection of
// `oxide serve` runs: ReadRequest (the session's header limit, framing rules and route body
// limits), the RequestGuard (rate limits), then Router::Handle over every service on a real
// SQLite store and blob dir, seeded with a device, a fleet and a model. Checked: no crash (ASan,
// UBSan), and no 5xx answer (but the 501 for an unknown transfer coding): whatever a client
// sends is its fault, never a server error.
// Also built without libFuzzer as fuzz_http_request_replay (a ctest over the seed corpus).
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "base/posix_file_system.hpp"
#include "server/api/router.hpp"
#include "server/auth/auth_service.hpp"
#include "server/auth/authenticator.hpp"
#include "server/net/request_guard.hpp"
#include "server/net/request_reader.hpp"
#include "server/service/campaign_service.hpp"
#include "server/service/device_service.hpp"
#include "server/service/fleet_service.hpp"
#include "server/service/heartbeat_service.hpp"
#include "server/service/model_service.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace {

using namespace oxide;          // NOLINT: local to the harness
using namespace oxide::server;  // NOLINT

// Each input advances the time by one second, so the rate limits refill deterministically.
class StepClock final : public Clock {
 public:
  Duration Now() const override { return now_; }
  int64_t UnixMillis() const override {
    return 1'700'000'000'000 + std::chrono::duration_cast<std::chrono::milliseconds>(now_).count();
  }
  bool SleepFor(Duration d) override {
    now_ += d;
    return true;
  }

 private:
  Duration now_{};
};

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "invariant violated: %s: %s\n", what, detail.c_str());
  std::abort();
}

template <class T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) Fail(what, r.status().ToString());
  return std::move(r).value();
}

struct Server {
  Server() {
    char tmpl[] = "/tmp/oxide-fuzz-http-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) Fail("mkdtemp", tmpl);
    dir = tmpl;
    store = Must(store::sqlite::OpenSqliteStore(":memory:"), "open store");
    blobs = Must(BlobStore::Open(fs, clock, dir + "/blobs"), "open blobs");
    models = std::make_unique<ModelService>(*store, *blobs, clock);
    campaigns = std::make_unique<CampaignService>(*store, clock, *models);
    devices = std::make_unique<DeviceService>(*store, clock, options, *campaigns);
    fleets = std::make_unique<FleetService>(*store, clock, *devices);
    heartbeats = std::make_unique<HeartbeatService>(*store, clock, *campaigns, options);
    api::ApiLimits limits;
    limits.max_json_body = 64 * 1024;
    limits.max_upload = 256 * 1024;
    auth = std::make_unique<auth::AuthService>(*store, clock, *fleets);
    authenticator = std::make_unique<auth::Authenticator>(*store, clock);
    auto admin = Must(auth->CreateInitialAdmin(), "admin token");
    if (!admin) Fail("admin token", "none created");
    admin_token = *admin;
    router = std::make_unique<api::Router>(api::ApiDeps{*devices, *fleets, *models, *campaigns,
                                                        *heartbeats, *blobs, metrics, limits, *auth,
                                                        *authenticator});
    guard = std::make_unique<net::RequestGuard>(clock, net::RequestGuardOptions{});
    Seed();
  }

  // Inputs name credentials by placeholder, so mutations reach the handlers behind the access
  // check: "@admin" becomes the admin token, "@device" cam-1's secret.
  std::string WithCredentials(std::string_view bytes) const {
    std::string s(bytes);
    for (auto [from, to] : {std::pair<std::string_view, const std::string&>{"@admin", admin_token},
                            {"@device", device_secret}}) {
      for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
        s.replace(at, from.size(), to);
      }
    }
    return s;
  }

  // Known ids, so fuzzed paths and bodies reach the handlers' deeper branches.
  void Seed() {
    const std::string a = "Authorization: Bearer @admin\r\n";
    MustSucceed("POST /api/v1/devices HTTP/1.1\r\n" + a +
                "Content-Type: application/json\r\n"
                "Content-Length: 27\r\n\r\n{\"id\":\"cam-1\",\"name\":\"c\"}  ");
    MustSucceed("POST /api/v1/fleets HTTP/1.1\r\n" + a +
                "Content-Length: 21\r\n\r\n{\"id\":\"f\",\"name\":\"F\"}");
    MustSucceed("POST /api/v1/fleets/f/devices/cam-1 HTTP/1.1\r\n" + a + "\r\n");
    MustSucceed("POST /api/v1/models/m/versions/1 HTTP/1.1\r\n" + a +
                "Content-Length: 5\r\n\r\nmodel");
    Must(auth->Enroll("cam-1", device_secret, ""), "enroll cam-1");
    Status st = auth->SetDeviceState("cam-1", store::DeviceAuthState::kAccepted, false);
    if (!st.ok()) Fail("accept cam-1", st.ToString());
  }

  // A seed that does not succeed leaves the fuzzer exploring less than it claims.
  void MustSucceed(const std::string& bytes) {
    int status = Call(bytes);
    if (status < 200 || status >= 300) Fail("seed request", std::to_string(status) + ": " + bytes);
  }

  int Call(std::string_view raw) {
    clock.SleepFor(std::chrono::seconds(1));
    const std::string bytes = WithCredentials(raw);
    net::ReadRequestResult read = net::ReadRequest(bytes, *router, 16 * 1024);
    if (read.kind == net::ReadRequestResult::Kind::kIncomplete) return 0;
    if (read.kind == net::ReadRequestResult::Kind::kRejected) {
      // 501 is the one 5xx a client can cause on purpose: RFC 9112 6.1 prescribes it for a
      // transfer coding the server does not implement.
      if (read.reject->status == 501) return 501;
      return Check(*read.reject);
    }
    if (auto limited = guard->Admit(read.request.method, read.request.path, "192.0.2.1")) {
      return Check(*limited);
    }
    api::Response r = router->Handle(read.request);
    guard->OnAnswered(r.status, "192.0.2.1");
    return Check(r);
  }

  static int Check(const api::Response& r) {
    if (r.status < 100 || r.status >= 500) Fail("status", std::to_string(r.status) + " " + r.body);
    return r.status;
  }

  StepClock clock;
  PosixFileSystem fs;
  ServiceOptions options;
  std::string dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<BlobStore> blobs;
  std::unique_ptr<ModelService> models;
  std::unique_ptr<CampaignService> campaigns;
  std::unique_ptr<DeviceService> devices;
  std::unique_ptr<FleetService> fleets;
  std::unique_ptr<HeartbeatService> heartbeats;
  api::Metrics metrics;
  std::unique_ptr<auth::AuthService> auth;
  std::unique_ptr<auth::Authenticator> authenticator;
  std::string admin_token;
  std::string device_secret = "fuzz-device-secret-" + std::string(32, 'x');
  std::unique_ptr<api::Router> router;
  std::unique_ptr<net::RequestGuard> guard;
};

Server* g_server = nullptr;

// The blob dir goes with the process (the replay ctest runs on every `make test`).
void RemoveTempDir() {
  std::error_code ec;
  if (g_server != nullptr) std::filesystem::remove_all(g_server->dir, ec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (g_server == nullptr) {
    g_server = new Server();  // lives for the process (libFuzzer style)
    std::atexit(RemoveTempDir);
  }
  g_server->Call(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
