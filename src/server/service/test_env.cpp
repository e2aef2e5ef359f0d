#include "server/service/test_env.hpp"

#include <gtest/gtest.h>

#include "base/file_util.hpp"
#include "protocol/patch_versions.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace oxide::server::testing {

PatchBuildFn FakePatchBuilder() {
  return [](const std::string& base, const std::string&,
            const std::string& out) -> Result<BuiltPatch> {
    std::string b;
    if (!base.empty()) {
      OXIDE_ASSIGN_OR_RETURN(b, ReadFileToString(base));
    }
    if (b.find("unbuildable") != std::string::npos) return Internal("round trip failed");
    OXIDE_RETURN_IF_ERROR(AtomicWriteFile(out, std::string("OXDL\x02patch", 10)));
    return BuiltPatch{"binary"};
  };
}

TestEnv::TestEnv() : TestEnv(ServiceOptions{}) {}

void TestEnv::DropEmptyBaseJobs() {
  auto targets = store->models().ListBlobShas();
  ASSERT_TRUE(targets.ok()) << targets.status().ToString();
  for (const auto& t : *targets) {
    auto p = store->patches().Get(std::string(protocol::kEmptySha256), t);
    if (!p.ok()) continue;
    p->state = store::PatchState::kFailed;
    p->error = "dropped by the test";
    ASSERT_TRUE(store->patches().Update(*p).ok());
  }
}

TestEnv::TestEnv(ServiceOptions opts) : options(opts) {
  auto s = store::sqlite::OpenSqliteStore(":memory:");
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  store = std::move(s).value();
  auto b = BlobStore::Open(fs, clock, dir.File("blobs"));
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  blobs = std::move(b).value();
  events = std::make_unique<EventBus>(clock, EventBusOptions{});
  models = std::make_unique<ModelService>(*store, *blobs, clock);
  campaigns = std::make_unique<CampaignService>(*store, clock, *models);
  devices = std::make_unique<DeviceService>(*store, clock, options, *campaigns);
  fleets = std::make_unique<FleetService>(*store, clock, *devices);
  heartbeats = std::make_unique<HeartbeatService>(*store, clock, *campaigns, options);
  worker = std::make_unique<PatchWorker>(*store, *blobs, clock, FakePatchBuilder());
  heartbeats->SetMetrics(&metrics);
  worker->SetMetrics(&metrics);
  stats = std::make_unique<StatsService>(*store, clock, options, BandwidthPricing{0.09, "EUR"});
  api::ApiLimits limits;
  limits.max_json_body = 64 * 1024;
  limits.max_upload = 1024 * 1024;
  releases = std::make_unique<ReleaseService>(*store, clock);
  auth = std::make_unique<auth::AuthService>(*store, clock, *fleets);
  authenticator = std::make_unique<auth::Authenticator>(*store, clock);
  credentials = std::make_unique<auth::DeviceCredentialCache>(clock);
  authenticator->SetCredentialCache(credentials.get());
  auth->SetCredentialCache(credentials.get());
  devices->SetCredentialCache(credentials.get());
  campaigns->SetEvents(events.get());
  devices->SetEvents(events.get());
  heartbeats->SetEvents(events.get());
  worker->SetEvents(events.get());
  auth->SetEvents(events.get(), options.offline_after_ms);
  auto admin = auth->CreateInitialAdmin();
  EXPECT_TRUE(admin.ok() && admin->has_value());
  if (admin.ok() && admin->has_value()) admin_token = **admin;
  api::ApiDeps deps{*devices, *fleets, *models, *campaigns, *heartbeats,
                    *blobs,   metrics, limits,  *auth,      *authenticator};
  deps.releases = releases.get();
  deps.stats = stats.get();
  deps.events = events.get();
  router = std::make_unique<api::Router>(deps);
}

std::string TestEnv::EnrollDevice(const std::string& device) {
  std::string secret = "secret-of-" + device + std::string(32, 'x');
  auto st = auth->Enroll(device, secret, "");
  EXPECT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_TRUE(auth->SetDeviceState(device, store::DeviceAuthState::kAccepted, false).ok());
  return secret;
}

void TestEnv::AddDeviceAuth(api::Request* r, const std::string& device, const std::string& secret) {
  r->With("authorization", "Bearer " + secret).With("x-oxide-device-id", device);
}

void TestEnv::SeedFleet(const std::string& fleet, int n) {
  EXPECT_TRUE(fleets->Create(fleet, fleet).ok());
  for (int i = 0; i < n; ++i) {
    std::string id = "d" + std::to_string(i);
    EXPECT_TRUE(devices->Register(id, id, {}).ok());
    EXPECT_TRUE(fleets->AddDevice(fleet, id).ok());
  }
}

store::ModelVersionRecord TestEnv::Upload(const std::string& model, const std::string& version,
                                          const std::string& body) {
  auto w = blobs->NewWriter();
  EXPECT_TRUE(w.ok());
  EXPECT_TRUE((*w)->Append(body).ok());
  auto rec = models->Upload(model, version, **w);
  EXPECT_TRUE(rec.ok()) << rec.status().ToString();
  return rec.ok() ? rec->version : store::ModelVersionRecord{};
}

protocol::HeartbeatResponse TestEnv::Beat(const std::string& device,
                                          const protocol::HeartbeatRequest& r) {
  auto resp = heartbeats->Handle(device, r);
  EXPECT_TRUE(resp.ok()) << resp.status().ToString();
  return resp.ok() ? *resp : protocol::HeartbeatResponse{};
}

protocol::HeartbeatResponse TestEnv::Report(const std::string& device, protocol::UpdateStage stage,
                                            const std::string& model, const std::string& version) {
  protocol::HeartbeatRequest r;
  protocol::UpdateProgress u;
  u.model_id = model;
  u.version = version;
  u.stage = stage;
  if (stage == protocol::UpdateStage::kFailed) u.error = "boom";
  r.update = u;
  return Beat(device, r);
}

}  // namespace oxide::server::testing
