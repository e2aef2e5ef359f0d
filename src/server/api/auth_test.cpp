// Who may do what: operator tokens, roles, device credentials, enrollment and the audit log,
// through the Router with Request structs (no sockets).
#include <gtest/gtest.h>

#include "crypto/base64.hpp"
#include "server/api/internal/json_util.hpp"
#include "server/api/router.hpp"
#include "server/auth/token.hpp"
#include "server/service/test_env.hpp"

namespace oxide::server::api {
namespace {

class AuthTest : public ::testing::Test {
 protected:
  // `token` "" sends no Authorization header.
  Response Call(Method m, const std::string& path, const std::string& token,
                const std::string& body = "") {
    Request r;
    r.method = m;
    r.path = path.substr(0, path.find('?'));
    if (path.find('?') != std::string::npos) r.query = path.substr(path.find('?') + 1);
    r.body = body;
    r.remote_address = "192.0.2.7";
    if (!body.empty()) r.With("content-type", "application/json");
    if (!token.empty()) r.With("authorization", "Bearer " + token);
    return env.router->Handle(r);
  }
  Response Admin(Method m, const std::string& path, const std::string& body = "") {
    return Call(m, path, env.admin_token, body);
  }
  Response AsDevice(Method m, const std::string& path, const std::string& device,
                    const std::string& secret, const std::string& body = "") {
    Request r;
    r.method = m;
    r.path = path;
    r.body = body;
    server::testing::TestEnv::AddDeviceAuth(&r, device, secret);
    return env.router->Handle(r);
  }
  Response Heartbeat(const std::string& device, const std::string& secret) {
    return AsDevice(Method::kPost, "/api/v1/devices/" + device + "/heartbeat", device, secret);
  }
  Response Enroll(const std::string& device, const std::string& secret,
                  const std::string& enrollment_token = "") {
    Json body{{"device_id", device}, {"secret", secret}};
    if (!enrollment_token.empty()) body["enrollment_token"] = enrollment_token;
    return Call(Method::kPost, "/api/v1/enroll", "", body.dump());
  }
  std::string NewToken(const std::string& name, const std::string& role) {
    auto r = Admin(Method::kPost, "/api/v1/tokens", Json{{"name", name}, {"role", role}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return Body(r)["token"].get<std::string>();
  }
  static Json Body(const Response& r) { return Json::parse(r.body, nullptr, false); }
  static std::string Error(const Response& r) {
    Json j = Body(r);
    return j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : "";
  }

  server::testing::TestEnv env;
  const std::string secret1 = std::string(40, 'a');
  const std::string secret2 = std::string(40, 'b');
};

TEST(TokenTest, TokensArePrefixedBase64UrlOf32RandomBytes) {
  auto a = auth::GenerateToken(auth::kOperatorTokenPrefix);
  auto b = auth::GenerateToken(auth::kEnrollmentTokenPrefix);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->substr(0, 6), "oxide_");
  EXPECT_EQ(b->substr(0, 6), "oxenr_");
  EXPECT_EQ(a->size(), 6u + 43u);
  EXPECT_EQ(
      a->find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", 6),
      std::string::npos);
  EXPECT_NE(*a, *auth::GenerateToken(auth::kOperatorTokenPrefix));
  EXPECT_EQ(crypto::Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(auth::HashSecret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(auth::ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(auth::ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(auth::ConstantTimeEquals("abc", "ab"));
}

TEST_F(AuthTest, InitialAdminIsCreatedOnlyOnce) {
  EXPECT_EQ(env.admin_token.substr(0, 6), "oxide_");
  auto again = env.auth->CreateInitialAdmin();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
}

TEST_F(AuthTest, MissingMalformedAndUnknownTokensAre401) {
  auto none = Call(Method::kGet, "/api/v1/devices", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(Error(none), "unauthenticated");
  EXPECT_EQ(none.Header("www-authenticate"), "Bearer");
  EXPECT_EQ(Call(Method::kGet, "/api/v1/devices", "oxide_" + std::string(43, 'A')).status, 401);
  Request basic;
  basic.path = "/api/v1/devices";
  basic.With("authorization", "Basic " + env.admin_token);
  EXPECT_EQ(env.router->Handle(basic).status, 401);
  // Public routes need nothing.
  EXPECT_EQ(Call(Method::kGet, "/health", "").status, 200);
  EXPECT_EQ(Call(Method::kGet, "/metrics", "").status, 401);
  EXPECT_EQ(Admin(Method::kGet, "/api/v1/devices").status, 200);
}

TEST_F(AuthTest, RevokedTokenIsRefusedAtOnce) {
  std::string t = NewToken("ci", "admin");
  EXPECT_EQ(Call(Method::kGet, "/api/v1/devices", t).status, 200);
  auto list = Body(Admin(Method::kGet, "/api/v1/tokens"));
  ASSERT_EQ(list.size(), 2u);
  std::string id = list[1]["id"];
  EXPECT_EQ(list[1]["name"], "ci");
  EXPECT_EQ(list[1]["role"], "admin");
  EXPECT_FALSE(list.dump().find(t) != std::string::npos);  // no secret in the list
  EXPECT_FALSE(list[1].contains("token"));
  EXPECT_EQ(Admin(Method::kDelete, "/api/v1/tokens/" + id).status, 200);
  auto refused = Call(Method::kGet, "/api/v1/devices", t);
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(Error(refused), "unauthenticated");
  EXPECT_EQ(Admin(Method::kDelete, "/api/v1/tokens/nope").status, 404);
  EXPECT_FALSE(Body(Admin(Method::kGet, "/api/v1/tokens"))[1]["revoked_at"].is_null());
}

TEST_F(AuthTest, ViewerReadsButMayNotWrite) {
  std::string viewer = NewToken("dashboard", "viewer");
  EXPECT_EQ(Call(Method::kGet, "/api/v1/devices", viewer).status, 200);
  EXPECT_EQ(Call(Method::kGet, "/metrics", viewer).status, 200);
  auto write = Call(Method::kPost, "/api/v1/fleets", viewer, R"({"id":"f","name":"F"})");
  EXPECT_EQ(write.status, 403);
  EXPECT_EQ(Error(write), "forbidden");
  EXPECT_EQ(Call(Method::kPost, "/api/v1/tokens", viewer, R"({"name":"x","role":"admin"})").status,
            403);
  EXPECT_EQ(Call(Method::kGet, "/api/v1/audit", viewer).status, 403);
  EXPECT_EQ(Call(Method::kGet, "/api/v1/tokens", viewer).status, 403);
  EXPECT_EQ(Admin(Method::kGet, "/api/v1/fleets/f").status, 404);  // nothing was created
  EXPECT_EQ(Admin(Method::kPost, "/api/v1/tokens", R"({"name":"x","role":"root"})").status, 422);
}

TEST_F(AuthTest, UploadWithoutTokenIsRefusedBeforeTheBodyIsRead) {
  Request r;
  r.method = Method::kPost;
  r.path = "/api/v1/models/m/versions/v1";
  auto policy = env.router->PolicyFor(r);
  ASSERT_TRUE(policy.refusal.has_value());
  EXPECT_EQ(policy.refusal->status, 401);
  r.With("authorization", "Bearer " + NewToken("v", "viewer"));
  EXPECT_EQ(env.router->PolicyFor(r).refusal->status, 403);
  Request ok = r;
  ok.headers.clear();
  ok.With("authorization", "Bearer " + env.admin_token);
  EXPECT_FALSE(env.router->PolicyFor(ok).refusal.has_value());
}

TEST_F(AuthTest, PendingDeviceGetsNothingUntilAccepted) {
  auto enrolled = Enroll("d1", secret1);
  EXPECT_EQ(enrolled.status, 202);
  EXPECT_EQ(Body(enrolled)["status"], "pending");
  auto hb = Heartbeat("d1", secret1);
  EXPECT_EQ(hb.status, 403);
  EXPECT_EQ(Error(hb), "device_pending");
  EXPECT_EQ(Enroll("d1", secret1).status, 202);  // idempotent
  EXPECT_EQ(Admin(Method::kPost, "/api/v1/devices/d1/accept").status, 200);
  EXPECT_EQ(Heartbeat("d1", secret1).status, 200);
  EXPECT_EQ(Enroll("d1", secret1).status, 200);
  EXPECT_EQ(Admin(Method::kPost, "/api/v1/devices/ghost/accept").status, 404);
}

TEST_F(AuthTest, WrongSecretOrUnknownDeviceIs401AndSecondSecretIs409) {
  ASSERT_EQ(Enroll("d1", secret1).status, 202);
  auto other = Enroll("d1", secret2);
  EXPECT_EQ(other.status, 409);
  EXPECT_EQ(Admin(Method::kPost, "/api/v1/devices/d1/accept").status, 200);
  EXPECT_EQ(Heartbeat("d1", secret2).status, 401);
  EXPECT_EQ(Heartbeat("ghost", secret1).status, 401);
  EXPECT_EQ(AsDevice(Method::kGet, "/api/v1/devices", "", secret1).status, 401);  // no id header
  EXPECT_EQ(Enroll("d1", "short").status, 422);
  EXPECT_EQ(Enroll("../x", secret1).status, 422);
}

TEST_F(AuthTest, RejectedAndRevokedDevicesAreRefusedAtOnce) {
  std::string s = env.EnrollDevice("d1");
  EXPECT_EQ(Heartbeat("d1", s).status, 200);
  EXPECT_EQ(Admin(Method::kPost, "/api/v1/devices/d1/reject").status, 200);
  auto hb = Heartbeat("d1", s);
  EXPECT_EQ(hb.status, 403);
  EXPECT_EQ(Error(hb), "device_rejected");
  EXPECT_EQ(Admin(Method::kPost, "/api/v1/devices/d1/accept").status, 200);
  EXPECT_EQ(Heartbeat("d1", s).status, 200);
  // Revoke drops the credential: the old secret is unknown, a new one stays rejected.
  EXPECT_EQ(Admin(Method::kPost, "/api/v1/devices/d1/revoke").status, 200);
  EXPECT_EQ(Heartbeat("d1", s).status, 401);
  auto again = Enroll("d1", secret2);
  EXPECT_EQ(again.status, 403);
  EXPECT_EQ(Error(again), "device_rejected");
  EXPECT_EQ(Heartbeat("d1", secret2).status, 403);
}

TEST_F(AuthTest, EnrollmentTokenAcceptsAtOnceAndJoinsTheFleet) {
  ASSERT_EQ(Admin(Method::kPost, "/api/v1/fleets", R"({"id":"f","name":"F"})").status, 201);
  auto created = Admin(Method::kPost, "/api/v1/fleets/f/enrollment-tokens");
  ASSERT_EQ(created.status, 201);
  std::string token = Body(created)["token"];
  EXPECT_EQ(token.substr(0, 6), "oxenr_");
  EXPECT_EQ(Admin(Method::kPost, "/api/v1/fleets/ghost/enrollment-tokens").status, 404);
  auto enrolled = Enroll("d1", secret1, token);
  EXPECT_EQ(enrolled.status, 200);
  EXPECT_EQ(Body(enrolled)["status"], "accepted");
  EXPECT_EQ(Heartbeat("d1", secret1).status, 200);
  EXPECT_EQ(Body(Admin(Method::kGet, "/api/v1/fleets/f"))["devices"][0], "d1");
  auto list = Body(Admin(Method::kGet, "/api/v1/fleets/f/enrollment-tokens"));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_FALSE(list[0].contains("token"));
  std::string id = list[0]["id"];
  EXPECT_EQ(Admin(Method::kDelete, "/api/v1/fleets/f/enrollment-tokens/" + id).status, 200);
  auto revoked = Enroll("d2", secret2, token);
  EXPECT_EQ(revoked.status, 401);
  EXPECT_EQ(Error(revoked), "unauthenticated");
  EXPECT_EQ(Enroll("d3", secret2, "oxenr_wrong").status, 401);
}

TEST_F(AuthTest, DeviceMayHeartbeatOnlyAsItselfAndNotCallOperatorRoutes) {
  std::string s1 = env.EnrollDevice("d1");
  env.EnrollDevice("d2");
  auto as_other = AsDevice(Method::kPost, "/api/v1/devices/d2/heartbeat", "d1", s1);
  EXPECT_EQ(as_other.status, 403);
  EXPECT_EQ(Error(as_other), "forbidden");
  // The header names another device than the secret's: unknown credential.
  EXPECT_EQ(AsDevice(Method::kPost, "/api/v1/devices/d2/heartbeat", "d2", s1).status, 401);
  EXPECT_EQ(AsDevice(Method::kGet, "/api/v1/devices/d2", "d1", s1).status, 403);
  EXPECT_EQ(AsDevice(Method::kGet, "/api/v1/devices/d1", "d1", s1).status, 403);
  EXPECT_EQ(AsDevice(Method::kPost, "/api/v1/fleets", "d1", s1, R"({"id":"f","name":"F"})").status,
            403);
}

TEST_F(AuthTest, DeviceDownloadsOnlyWhatItIsAssigned) {
  std::string s1 = env.EnrollDevice("d1");
  env.Upload("m", "v1", "model version one");
  env.Upload("m", "v2", "model version two");
  env.Upload("secret", "v9", "another model nobody assigned to d1");
  const std::string v1 = "/api/v1/models/m/versions/v1/download";
  const std::string v2 = "/api/v1/models/m/versions/v2/download";
  const std::string other = "/api/v1/models/secret/versions/v9/download";
  EXPECT_EQ(AsDevice(Method::kGet, v2, "d1", s1).status, 403);
  ASSERT_EQ(Admin(Method::kPost, "/api/v1/fleets", R"({"id":"f","name":"F"})").status, 201);
  ASSERT_EQ(Admin(Method::kPost, "/api/v1/fleets/f/devices/d1").status, 200);
  ASSERT_EQ(
      Admin(Method::kPost, "/api/v1/fleets/f/deploy", R"({"model_id":"m","model_version":"v2"})")
          .status,
      200);
  EXPECT_EQ(AsDevice(Method::kGet, v2, "d1", s1).status, 200);
  EXPECT_EQ(AsDevice(Method::kGet, v1, "d1", s1).status, 403);
  // What a device claims to run is its own word: it opens nothing (only the assignment does).
  ASSERT_EQ(AsDevice(Method::kPost, "/api/v1/devices/d1/heartbeat", "d1", s1,
                     R"({"current_model":"secret","current_model_version":"v9"})")
                .status,
            200);
  EXPECT_EQ(AsDevice(Method::kGet, other, "d1", s1).status, 403);
  EXPECT_EQ(AsDevice(Method::kGet, "/api/v1/models/secret/versions/v9/release", "d1", s1).status,
            403);
  ASSERT_EQ(AsDevice(Method::kPost, "/api/v1/devices/d1/heartbeat", "d1", s1,
                     R"({"current_model":"m","current_model_version":"v1"})")
                .status,
            200);
  EXPECT_EQ(AsDevice(Method::kGet, v1, "d1", s1).status, 403);
  EXPECT_EQ(AsDevice(Method::kGet, v2, "d1", s1).status, 200);
  EXPECT_EQ(Admin(Method::kGet, v1).status, 200);  // operators may download anything
}

TEST_F(AuthTest, AuditLogRecordsOperatorChangesNewestFirst) {
  std::string t = NewToken("ci", "admin");
  ASSERT_EQ(Call(Method::kPost, "/api/v1/fleets", t, R"({"id":"f","name":"F"})").status, 201);
  ASSERT_EQ(Call(Method::kPost, "/api/v1/fleets", t, R"({"id":"f","name":"F"})").status, 409);
  ASSERT_EQ(Call(Method::kGet, "/api/v1/fleets", t).status, 200);
  env.EnrollDevice("d1");
  ASSERT_EQ(Call(Method::kPost, "/api/v1/devices/d1/reject", t).status, 200);
  auto log = Body(Admin(Method::kGet, "/api/v1/audit?limit=10"));
  ASSERT_EQ(log.size(), 3u) << log.dump();  // token create, fleet create, reject; not the 409
  EXPECT_EQ(log[0]["action"], "POST /api/v1/devices/:id/reject");
  EXPECT_EQ(log[0]["target"], "/api/v1/devices/d1/reject");
  EXPECT_EQ(log[0]["actor"]["name"], "ci");
  EXPECT_EQ(log[0]["remote_address"], "192.0.2.7");
  EXPECT_FALSE(log[0]["at"].is_null());
  EXPECT_EQ(log[1]["action"], "POST /api/v1/fleets");
  EXPECT_EQ(log[2]["action"], "POST /api/v1/tokens");
  EXPECT_EQ(log[2]["actor"]["name"], "initial-admin");
  EXPECT_EQ(log.dump().find(t), std::string::npos);  // the created token is never logged
  EXPECT_EQ(Body(Admin(Method::kGet, "/api/v1/audit?limit=1")).size(), 1u);
  EXPECT_EQ(Admin(Method::kGet, "/api/v1/audit?limit=x").status, 422);
}

TEST_F(AuthTest, OperatorHeartbeatNeedsAdmin) {
  env.EnrollDevice("d1");
  std::string viewer = NewToken("dashboard", "viewer");
  auto forged = Call(Method::kPost, "/api/v1/devices/d1/heartbeat", viewer, "{}");
  EXPECT_EQ(forged.status, 403);
  EXPECT_EQ(Error(forged), "forbidden");
  EXPECT_EQ(Admin(Method::kPost, "/api/v1/devices/d1/heartbeat", "{}").status, 200);
  env.Upload("m", "v1", "model version one");
  // Reading stays open to viewers on device routes (GET).
  EXPECT_EQ(Call(Method::kGet, "/api/v1/models/m/versions/v1/download", viewer).status, 200);
}

TEST_F(AuthTest, AcceptNeedsAnEnrolledCredentialWhoseFingerprintIsShown) {
  ASSERT_EQ(Admin(Method::kPost, "/api/v1/devices", R"({"id":"d1"})").status, 201);
  auto before = Body(Admin(Method::kGet, "/api/v1/devices/d1"));
  EXPECT_EQ(before["auth_state"], "unenrolled");
  EXPECT_TRUE(before["credential_fingerprint"].is_null());
  auto early = Admin(Method::kPost, "/api/v1/devices/d1/accept");
  EXPECT_EQ(early.status, 409);
  EXPECT_EQ(Body(early)["error"]["code"], "failed_precondition");
  // Still nothing bound: the first secret to enroll waits for an operator.
  EXPECT_EQ(Enroll("d1", secret1).status, 202);
  auto after = Body(Admin(Method::kGet, "/api/v1/devices/d1"));
  EXPECT_EQ(after["auth_state"], "pending");
  EXPECT_EQ(after["credential_fingerprint"], auth::HashSecret(secret1).substr(0, 16));
  EXPECT_EQ(auth::CredentialFingerprint(secret1), auth::HashSecret(secret1).substr(0, 16));
  EXPECT_EQ(Admin(Method::kPost, "/api/v1/devices/d1/accept").status, 200);
  EXPECT_EQ(Enroll("d1", secret2).status, 409);
  EXPECT_EQ(Heartbeat("d1", secret1).status, 200);
}

TEST_F(AuthTest, KnownCredentialIgnoresTheEnrollmentToken) {
  ASSERT_EQ(Admin(Method::kPost, "/api/v1/fleets", R"({"id":"f","name":"F"})").status, 201);
  std::string token = Body(Admin(Method::kPost, "/api/v1/fleets/f/enrollment-tokens"))["token"];
  ASSERT_EQ(Enroll("d1", secret1, token).status, 200);
  ASSERT_EQ(Body(Admin(Method::kGet, "/api/v1/fleets/f"))["devices"].size(), 1u);
  // The operator moves d1 out of the fleet; its restart (same token) must not put it back.
  ASSERT_EQ(Admin(Method::kDelete, "/api/v1/fleets/f/devices/d1").status, 200);
  EXPECT_EQ(Enroll("d1", secret1, token).status, 200);
  EXPECT_EQ(Body(Admin(Method::kGet, "/api/v1/fleets/f"))["devices"].size(), 0u);
  // Revoking the token stops new devices, not the ones it already let in.
  std::string id = Body(Admin(Method::kGet, "/api/v1/fleets/f/enrollment-tokens"))[0]["id"];
  ASSERT_EQ(Admin(Method::kDelete, "/api/v1/fleets/f/enrollment-tokens/" + id).status, 200);
  auto restart = Enroll("d1", secret1, token);
  EXPECT_EQ(restart.status, 200);
  EXPECT_EQ(Body(restart)["status"], "accepted");
  EXPECT_EQ(Heartbeat("d1", secret1).status, 200);
  EXPECT_EQ(Enroll("d2", secret2, token).status, 401);
  // Another secret for d1 is still refused, token or not.
  EXPECT_EQ(Enroll("d1", secret2, token).status, 401);
  EXPECT_EQ(Enroll("d1", secret2).status, 409);
}

TEST_F(AuthTest, EnrollRefusesOperatorAndEnrollmentTokensAsSecrets) {
  EXPECT_EQ(Enroll("d1", "oxide_" + std::string(43, 'A')).status, 422);
  EXPECT_EQ(Enroll("d1", "oxenr_" + std::string(43, 'A')).status, 422);
  EXPECT_EQ(Admin(Method::kGet, "/api/v1/devices/d1").status, 404);
}

TEST_F(AuthTest, DownloadsAreBookedToTheCallerNotTheHeader) {
  std::string s1 = env.EnrollDevice("d1");
  env.EnrollDevice("d2");
  env.Upload("m", "v1", "model version one");
  ASSERT_EQ(Admin(Method::kPost, "/api/v1/fleets", R"({"id":"f","name":"F"})").status, 201);
  ASSERT_EQ(Admin(Method::kPost, "/api/v1/fleets/f/devices/d1").status, 200);
  ASSERT_EQ(
      Admin(Method::kPost, "/api/v1/fleets/f/deploy", R"({"model_id":"m","model_version":"v1"})")
          .status,
      200);
  const std::string path = "/api/v1/models/m/versions/v1/download";
  Request op;
  op.path = path;
  op.With("authorization", "Bearer " + env.admin_token).With("x-oxide-device-id", "d2");
  Response r = env.router->Handle(op);
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(r.on_complete);
  r.on_complete(7);
  EXPECT_EQ(env.store->devices().Get("d2")->bytes_served, 0u);  // an operator is no device
  Response dev = AsDevice(Method::kGet, path, "d1", s1);
  ASSERT_EQ(dev.status, 200);
  dev.on_complete(5);
  EXPECT_EQ(env.store->devices().Get("d1")->bytes_served, 5u);
}

// A real store whose assignments cannot be read (a failing disk): for the error paths of the
// access check.
class BrokenAssignmentsStore : public store::Store {
 public:
  explicit BrokenAssignmentsStore(store::Store& real) : real_(real), broken_(real) {}
  store::DeviceStore& devices() override { return real_.devices(); }
  store::FleetStore& fleets() override { return real_.fleets(); }
  store::ModelStore& models() override { return real_.models(); }
  store::PatchStore& patches() override { return real_.patches(); }
  store::AssignmentStore& assignments() override { return broken_; }
  store::CampaignStore& campaigns() override { return real_.campaigns(); }
  store::AttemptStore& attempts() override { return real_.attempts(); }
  store::ClearanceStore& clearances() override { return real_.clearances(); }
  store::ReleaseStore& releases() override { return real_.releases(); }
  store::AuthStore& auth() override { return real_.auth(); }
  store::AuditStore& audit() override { return real_.audit(); }
  store::StatsStore& stats() override { return real_.stats(); }
  Status InTransaction(const std::function<Status()>& fn) override {
    return real_.InTransaction(fn);
  }
  store::EventLogStore& event_log() override { return real_.event_log(); }
  Status InSavepoint(const std::function<Status()>& fn) override { return real_.InSavepoint(fn); }
  store::GoldenStore& golden() override { return real_.golden(); }

 private:
  class Broken : public store::AssignmentStore {
   public:
    explicit Broken(store::Store& real) : real_(real) {}
    Result<std::optional<store::AssignmentRecord>> Get(const std::string&) override {
      return Status(ErrorCode::kIo, "disk read error");
    }
    Status Put(const store::AssignmentRecord& a) override { return real_.assignments().Put(a); }
    Status Delete(const std::string& id) override { return real_.assignments().Delete(id); }

   private:
    store::Store& real_;
  };
  store::Store& real_;
  Broken broken_;
};

// A device check that fails for another reason than "not yours" is the server's fault: answered
// as that error (5xx), not as a 403 that would tell the device it may not.
TEST_F(AuthTest, DeviceCheckStoreErrorIsNotA403) {
  std::string s1 = env.EnrollDevice("d1");
  env.Upload("m", "v1", "model version one");
  BrokenAssignmentsStore broken(*env.store);
  auth::AuthService auth(broken, env.clock, *env.fleets);
  ApiDeps deps{*env.devices, *env.fleets, *env.models, *env.campaigns, *env.heartbeats,
               *env.blobs,   env.metrics, ApiLimits(), auth,           *env.authenticator};
  Router router(deps);
  Request r;
  r.path = "/api/v1/models/m/versions/v1/download";
  server::testing::TestEnv::AddDeviceAuth(&r, "d1", s1);
  Response resp = router.Handle(r);
  EXPECT_EQ(resp.status, 500) << resp.body;
  ASSERT_TRUE(Body(resp)["error"].is_object()) << resp.body;
  EXPECT_EQ(Body(resp)["error"]["code"], "io");
}

// What revoke really does: the credential is gone (401), the id stays rejected; whoever enrolls
// it next binds a new secret (a valid enrollment token does not help) and waits for an operator,
// who sees the new fingerprint before accepting.
TEST_F(AuthTest, RevokedDeviceReEnrollsRejectedUntilAnOperatorAccepts) {
  ASSERT_EQ(Admin(Method::kPost, "/api/v1/fleets", R"({"id":"f","name":"F"})").status, 201);
  std::string token = Body(Admin(Method::kPost, "/api/v1/fleets/f/enrollment-tokens"))["token"];
  ASSERT_EQ(Enroll("d1", secret1, token).status, 200);
  ASSERT_EQ(Admin(Method::kPost, "/api/v1/devices/d1/revoke").status, 200);
  auto revoked = Body(Admin(Method::kGet, "/api/v1/devices/d1"));
  EXPECT_EQ(revoked["auth_state"], "rejected");
  EXPECT_TRUE(revoked["credential_fingerprint"].is_null());
  EXPECT_EQ(Heartbeat("d1", secret1).status, 401);
  EXPECT_EQ(Admin(Method::kPost, "/api/v1/devices/d1/accept").status, 409);  // nothing to accept
  auto again = Enroll("d1", secret2, token);
  EXPECT_EQ(again.status, 403);
  EXPECT_EQ(Error(again), "device_rejected");
  EXPECT_EQ(Enroll("d1", secret1, token).status, 409);  // the first new secret holds the id
  EXPECT_EQ(Body(Admin(Method::kGet, "/api/v1/devices/d1"))["credential_fingerprint"],
            auth::CredentialFingerprint(secret2));
  ASSERT_EQ(Admin(Method::kPost, "/api/v1/devices/d1/accept").status, 200);
  EXPECT_EQ(Heartbeat("d1", secret2).status, 200);
  EXPECT_EQ(Heartbeat("d1", secret1).status, 401);
}

}  // namespace
}  // namespace oxide::server::api
