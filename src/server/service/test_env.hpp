#pragma once

// Test wiring: every service over a real in-memory SQLite store, a temp blob dir, a
// FakeClock and a fake patch builder (tests never sleep or touch the network).

#include <memory>
#include <string>

#include "base/posix_file_system.hpp"
#include "server/api/router.hpp"
#include "server/auth/auth_service.hpp"
#include "server/auth/authenticator.hpp"
#include "server/service/patch_worker.hpp"
#include "store/store.hpp"
#include "testing/fake_clock.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::server::testing {

// Writes "OXDL\x02patch" (10 bytes: magic, format version 2): smaller than any test target
// above 10 bytes. Fails when the base file contains "unbuildable"; "" is the empty base.
PatchBuildFn FakePatchBuilder();

struct TestEnv {
  TestEnv();
  explicit TestEnv(ServiceOptions options);

  // Authorization + X-Oxide-Device-Id of a device credential.
  static void AddDeviceAuth(api::Request* r, const std::string& device, const std::string& secret);

  // Registers devices d0..d{n-1} in fleet `fleet` and uploads model m v1/v2 (text bodies).
  void SeedFleet(const std::string& fleet, int n);
  store::ModelVersionRecord Upload(const std::string& model, const std::string& version,
                                   const std::string& body);
  protocol::HeartbeatResponse Beat(const std::string& device, const protocol::HeartbeatRequest& r);
  // Takes the first-install jobs (from the empty base) queued by every upload so far out of the
  // queue (state failed), for tests about the worker and other jobs.
  void DropEmptyBaseJobs();
  // Heartbeat reporting an update stage for the device's current assignment.
  protocol::HeartbeatResponse Report(const std::string& device, protocol::UpdateStage stage,
                                     const std::string& model, const std::string& version);

  oxide::testing::TempDir dir;
  oxide::testing::FakeClock clock;
  PosixFileSystem fs;
  ServiceOptions options;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<EventBus> events;  // wired into every service and the router
  std::unique_ptr<BlobStore> blobs;
  std::unique_ptr<DeviceService> devices;
  std::unique_ptr<FleetService> fleets;
  std::unique_ptr<ModelService> models;
  std::unique_ptr<CampaignService> campaigns;
  std::unique_ptr<HeartbeatService> heartbeats;
  std::unique_ptr<ReleaseService> releases;
  std::unique_ptr<StatsService> stats;
  std::unique_ptr<PatchWorker> worker;  // not started: tests call RunOnce()
  std::unique_ptr<auth::AuthService> auth;
  std::unique_ptr<auth::Authenticator> authenticator;
  std::unique_ptr<auth::DeviceCredentialCache> credentials;  // as `oxide serve` wires it
  api::Metrics metrics;
  std::unique_ptr<api::Router> router;
  std::string admin_token;  // "initial-admin": tests call the API as this admin by default

  // Enrolls `device` with a fresh secret, accepted at once; returns the secret. The device
  // calls the API with DeviceAuth(device, secret) headers.
  std::string EnrollDevice(const std::string& device);
};

}  // namespace oxide::server::testing
