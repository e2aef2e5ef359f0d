#include "agent/agent_loop.hpp"

#include <gtest/gtest.h>

#include <deque>

#include "agent/pipeline_test_util.hpp"
#include "testing/fake_clock.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::agent {
namespace {

using std::chrono::seconds;

// Scripted control plane: answers POSTs from a queue (default: 200 with `default_body`).
// Enrollments are answered from `enroll_replies` (default: 200 accepted) and kept apart.
class FakeHttp final : public HttpClient {
 public:
  Result<HttpReply> Send(const HttpCall& call) override {
    if (call.url.find("/api/v1/enroll") != std::string::npos) {
      enrolls.push_back(call);
      if (enroll_replies.empty()) return HttpReply{200, R"({"status":"accepted"})"};
      auto r = enroll_replies.front();
      enroll_replies.pop_front();
      return r;
    }
    posts.emplace_back(call.url, call.body);
    headers.push_back(call.headers);
    if (!replies.empty()) {
      auto r = replies.front();
      replies.pop_front();
      return r;
    }
    return HttpReply{200, default_body};
  }
  std::deque<Result<HttpReply>> replies;
  std::string default_body = R"({"status":"ok","assignment":null})";
  std::vector<std::pair<std::string, std::string>> posts;
  std::vector<HeaderList> headers;  // of each post
  std::deque<Result<HttpReply>> enroll_replies;
  std::vector<HttpCall> enrolls;
};

TEST(BackoffDelay, DoublesUpToTheCapWithJitter) {
  EXPECT_EQ(BackoffDelay(1, seconds(2), seconds(300), 0.999999) / seconds(1), 1);
  EXPECT_EQ(BackoffDelay(3, seconds(2), seconds(300), 1.0), seconds(8));
  EXPECT_EQ(BackoffDelay(3, seconds(2), seconds(300), 0.0), seconds(4));
  EXPECT_EQ(BackoffDelay(40, seconds(2), seconds(300), 1.0), seconds(300));
  EXPECT_EQ(BackoffDelay(40, seconds(600), seconds(300), 1.0), seconds(600));  // never < base
}

TEST(IsSafeModelId, RejectsHiddenNames) {
  EXPECT_TRUE(IsSafeModelId("resnet.v2"));
  EXPECT_FALSE(IsSafeModelId(".oxide"));  // would be the default state dir
  EXPECT_FALSE(IsSafeModelId(".x"));
  EXPECT_FALSE(IsSafeModelId(""));
}

TEST(IsSafeId, RejectsPathTricks) {
  EXPECT_TRUE(IsSafeId("resnet-50_v1.2b"));
  EXPECT_FALSE(IsSafeId("a+b"));  // the server rejects it too: one character set everywhere
  for (const std::string& bad :
       std::vector<std::string>{"", ".", "..", "a/b", "a b", std::string(129, 'a')}) {
    EXPECT_FALSE(IsSafeId(bad)) << bad;
  }
}

class AgentLoopTest : public PipelineTest {
 public:
  AgentLoop MakeLoop(bool once) {
    AgentOptions o;
    o.pipeline = Options();
    o.pipeline.should_stop = nullptr;
    o.poll_interval = seconds(5);
    o.once = once;
    return AgentLoop({fs, dl, health, clock, control, quick}, o);
  }
  std::string default_reply() const { return http.default_body; }
  static constexpr const char* kSecret = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t";
  FakeHttp http;
  ControlPlane control{http, "http://cp", "dev1", "dev1", DeviceCredential{kSecret, "oxenr_t"}};
  ControlPlane* quick = nullptr;
};

TEST_F(AgentLoopTest, EnrollsFirstAndSendsItsCredentialOnEveryHeartbeat) {
  AgentLoop loop = MakeLoop(true);
  EXPECT_OK(loop.Run());
  ASSERT_EQ(http.enrolls.size(), 1u);
  EXPECT_NE(http.enrolls[0].body.find(R"("secret":"s3cr3t)"), std::string::npos);
  EXPECT_NE(http.enrolls[0].body.find(R"("enrollment_token":"oxenr_t")"), std::string::npos);
  ASSERT_EQ(http.posts.size(), 1u);
  EXPECT_EQ(http.posts[0].first, "http://cp/api/v1/devices/dev1/heartbeat");
  HeaderList want{{"Authorization", "Bearer " + std::string(kSecret)},
                  {"X-Oxide-Device-Id", "dev1"},
                  {"X-Oxide-Patch-Versions", "2,3"}};  // the assignment request too (issue #13)
  EXPECT_EQ(http.headers[0], want);
}

TEST_F(AgentLoopTest, PendingDeviceKeepsPollingWithBackoffAndLogsOnce) {
  for (int i = 0; i < 3; ++i) {
    http.enroll_replies.push_back(HttpReply{202, R"({"status":"pending"})"});
  }
  std::vector<std::string> lines;
  AgentOptions o;
  o.pipeline = Options();
  o.pipeline.should_stop = nullptr;
  o.pipeline.log = [&](const std::string& l) { lines.push_back(l); };
  o.poll_interval = seconds(5);
  AgentLoop loop({fs, dl, health, clock, control, quick}, o);
  EXPECT_STATUS(loop.Run(), ErrorCode::kCancelled);  // the fake clock stops after 4 sleeps
  EXPECT_EQ(http.enrolls.size(), 4u);                // 3 pending, then accepted
  EXPECT_GT(clock.sleeps()[2], clock.sleeps()[0]);   // backs off
  size_t pending_lines = 0;
  for (const auto& l : lines) pending_lines += l.find("device pending") != std::string::npos;
  EXPECT_EQ(pending_lines, 1u);
  EXPECT_FALSE(http.posts.empty());  // heartbeats once accepted
}

TEST_F(AgentLoopTest, RejectedOrForgottenDeviceEnrollsAgainWithoutExiting) {
  http.replies.push_back(HttpReply{403, R"({"error":"device_rejected","message":"x"})"});
  http.replies.push_back(HttpReply{401, R"({"error":"unauthenticated","message":"x"})"});
  AgentLoop loop = MakeLoop(false);
  EXPECT_STATUS(loop.Run(), ErrorCode::kCancelled);
  // enroll, heartbeat 403 (rejected); enroll, heartbeat 401 -> enroll again, heartbeat OK ...
  EXPECT_GE(http.enrolls.size(), 3u);
  EXPECT_GE(http.posts.size(), 3u);
}

TEST_F(AgentLoopTest, TransientFailuresBackOffAndNeverSpin) {
  for (int i = 0; i < 4; ++i) http.replies.push_back(Unavailable("down"));
  AgentLoop loop = MakeLoop(false);
  EXPECT_STATUS(loop.Run(), ErrorCode::kCancelled);  // the fake clock stops after 4 sleeps
  ASSERT_EQ(clock.sleeps().size(), 4u);
  EXPECT_GE(clock.sleeps()[0], seconds(5) / 2);
  EXPECT_GT(clock.sleeps()[3], clock.sleeps()[0]);
}

TEST_F(AgentLoopTest, AssignmentIsInstalledAndReported) {
  Publish(v1);
  http.default_body = R"({"status":"ok","assignment":{"model_id":"m","version":"v1","sha256":")" +
                      v1.ref.sha256 + R"(","size_bytes":)" + std::to_string(v1.bytes.size()) +
                      R"(,"campaign_id":"c1"}})";
  AgentLoop loop = MakeLoop(true);
  EXPECT_OK(loop.Run());
  EXPECT_EQ(Active(), v1.bytes);
  auto hb = loop.BuildHeartbeat();
  ASSERT_EQ(hb.models.size(), 1u);
  EXPECT_EQ(hb.models[0].version, "v1");
  ASSERT_TRUE(hb.update.has_value());
  EXPECT_EQ(hb.update->stage, protocol::UpdateStage::kCompleted);
  // The outcome was reported right away, not one poll interval later.
  EXPECT_NE(http.posts.back().second.find("completed"), std::string::npos);
}

std::string AssignmentJson(const std::string& model, const TestModel& m) {
  return R"({"status":"ok","assignment":{"model_id":")" + model + R"(","version":")" +
         m.ref.version + R"(","sha256":")" + m.ref.sha256 + R"(","size_bytes":)" +
         std::to_string(m.bytes.size()) + R"(,"campaign_id":"c"}})";
}

TEST_F(AgentLoopTest, EachModelHasItsOwnPipeline) {
  dl.SetFull("http://cp/api/v1/models/a/versions/v1/download", v1.bytes, v1.ref.sha256);
  dl.SetFull("http://cp/api/v1/models/b/versions/v3/download", v3.bytes, v3.ref.sha256);
  http.replies.push_back(HttpReply{200, AssignmentJson("a", v1)});
  http.replies.push_back(HttpReply{200, AssignmentJson("a", v1)});  // re-check before the switch
  http.replies.push_back(HttpReply{200, default_reply()});          // the outcome report
  http.replies.push_back(HttpReply{200, AssignmentJson("b", v3)});
  http.replies.push_back(HttpReply{200, AssignmentJson("b", v3)});
  AgentLoop loop = MakeLoop(false);
  EXPECT_STATUS(loop.Run(), ErrorCode::kCancelled);
  EXPECT_EQ(*ReadFileToString(model_dir + "/a"), v1.bytes);
  EXPECT_EQ(*ReadFileToString(model_dir + "/b"), v3.bytes);
  auto hb = loop.BuildHeartbeat();
  ASSERT_EQ(hb.models.size(), 2u);
  EXPECT_EQ(hb.models[0].model_id, "a");
  EXPECT_EQ(hb.models[1].model_id, "b");
}

TEST_F(AgentLoopTest, RecoverFinishesAnInterruptedUpdateAfterRestart) {
  InstallV1();
  Publish(v2);
  stop_in = OtaState::kActivated;
  EXPECT_STATUS(Assign(v2), ErrorCode::kCancelled);
  pipeline.reset();
  AgentLoop loop = MakeLoop(true);
  EXPECT_OK(loop.Recover());
  EXPECT_EQ(Active(), v2.bytes);
  EXPECT_EQ(loop.pipelines().at("m")->record().installed->version, "v2");
}

TEST_F(AgentLoopTest, ProgressHeartbeatWithoutAssignmentStopsTheDownload) {
  Publish(v3);
  dl.set_on_chunk([this](uint64_t) { clock.Advance(seconds(10)); });  // a slow link
  http.replies.push_back(HttpReply{200, AssignmentJson("m", v3)});
  http.default_body = R"({"status":"ok","assignment":null})";  // withdrawn meanwhile
  AgentLoop loop = MakeLoop(true);
  EXPECT_OK(loop.Run());
  const UpdateRecord& r = loop.pipelines().at("m")->record();
  EXPECT_EQ(r.state, OtaState::kIdle);
  EXPECT_EQ(r.poison_failures, 0u);
  EXPECT_LT(dl.bytes_served(), v3.bytes.size() / 2);
  EXPECT_EQ(Active(), "<absent>");
}

TEST_F(AgentLoopTest, ProgressHeartbeatWithAnotherVersionStopsTheDownload) {
  Publish(v3);
  dl.set_on_chunk([this](uint64_t) { clock.Advance(seconds(10)); });
  http.replies.push_back(HttpReply{200, AssignmentJson("m", v3)});
  http.default_body = AssignmentJson("m", v1);  // replaced by v1, which is not published
  AgentLoop loop = MakeLoop(true);
  EXPECT_OK(loop.Run());
  EXPECT_LT(dl.bytes_served(), v3.bytes.size() / 2);
  EXPECT_EQ(Active(), "<absent>");
  EXPECT_EQ(loop.pipelines().at("m")->record().poison_failures, 0u);
}

TEST_F(AgentLoopTest, ProgressHeartbeatsUseTheQuickControlPlane) {
  FakeHttp quick_http;
  quick_http.default_body = AssignmentJson("m", v3);
  ControlPlane quick_control{quick_http, "http://cp", "dev1", "dev1"};
  quick = &quick_control;
  Publish(v3);
  dl.set_on_chunk([this](uint64_t) { clock.Advance(seconds(10)); });
  http.default_body = AssignmentJson("m", v3);
  AgentLoop loop = MakeLoop(true);
  EXPECT_OK(loop.Run());
  EXPECT_EQ(Active(), v3.bytes);
  EXPECT_GT(quick_http.posts.size(), 5u);  // one per chunk: the clock jumps 10 s per chunk
  EXPECT_LE(http.posts.size(), 3u);        // poll, re-check before the switch, outcome
}

TEST_F(AgentLoopTest, DownloadThatAdvancesIsRetriedWithoutGrowingBackoff) {
  Publish(v3);
  dl.set_on_chunk([this](uint64_t sent) {
    if (sent == 1000) dl.FailAfterBytes(4000);  // every transfer breaks after ~5000 bytes
  });
  http.default_body = AssignmentJson("m", v3);
  AgentLoop loop = MakeLoop(false);
  EXPECT_STATUS(loop.Run(), ErrorCode::kCancelled);  // the fake clock stops after 4 sleeps
  ASSERT_EQ(clock.sleeps().size(), 4u);
  for (auto d : clock.sleeps()) EXPECT_EQ(d, seconds(5));  // the poll interval, no backoff
  EXPECT_GE(loop.pipelines().at("m")->record().download.bytes_done, 4 * 4000u);
}

TEST_F(AgentLoopTest, ModelIdStartingWithDotIsRejected) {
  http.default_body = AssignmentJson(".oxide", v1);
  AgentLoop loop = MakeLoop(true);
  EXPECT_OK(loop.Run());
  EXPECT_TRUE(loop.pipelines().empty());
  EXPECT_TRUE(dl.requests().empty());
}

TEST_F(AgentLoopTest, FullDownloadFallbackIsReportedOnceCarried) {
  InstallV1();
  pipeline.reset();
  Publish(v2);
  dl.SetPatch(Url("v2"), v1.ref.sha256, std::string(5000, 'x'), v2.ref.sha256);
  http.default_body = AssignmentJson("m", v2);
  AgentLoop loop = MakeLoop(true);
  EXPECT_OK(loop.Run());
  EXPECT_EQ(Active(), v2.bytes);
  // The outcome heartbeat carried the note (stage completed) and then it was cleared.
  const std::string& report = http.posts.back().second;
  EXPECT_NE(report.find("committed via full-download fallback"), std::string::npos) << report;
  EXPECT_NE(report.find("completed"), std::string::npos) << report;
  EXPECT_EQ(loop.pipelines().at("m")->record().last_error, "");
}

size_t PostsWith(const FakeHttp& http, const std::string& needle) {
  size_t n = 0;
  for (const auto& [url, body] : http.posts) n += body.find(needle) != std::string::npos;
  return n;
}

TEST_F(AgentLoopTest, FailureReportsAreResentUntilAcknowledgedThenRefusalIsCleared) {
  InstallV1();
  pipeline.reset();
  Publish(v2);
  health.healthy = false;
  http.default_body = AssignmentJson("m", v2);
  http.replies.push_back(HttpReply{200, AssignmentJson("m", v2)});  // the tick
  http.replies.push_back(HttpReply{200, AssignmentJson("m", v2)});  // re-check before the switch
  http.replies.push_back(Unavailable("reply lost"));                // the outcome report
  AgentOptions o;
  o.pipeline = Options();
  o.pipeline.should_stop = nullptr;
  o.pipeline.max_attempts = 1;  // one failure and the version is refused
  o.poll_interval = seconds(5);
  o.once = true;
  AgentLoop loop({fs, dl, health, clock, control, quick}, o);
  EXPECT_OK(loop.Tick());
  EXPECT_EQ(Active(), v1.bytes);  // rolled back
  const auto& pending = loop.pipelines().at("m")->record().pending_reports;
  ASSERT_EQ(pending.size(), 1u);
  const protocol::FailureReport report = pending[0];
  EXPECT_EQ(report.outcome, protocol::FailureOutcome::kRolledBack);
  EXPECT_EQ(report.stage, protocol::FailureStage::kHealthCheck);
  EXPECT_EQ(report.campaign_id, "c");
  EXPECT_NE(report.error.find("health check of v2 failed"), std::string::npos) << report.error;
  EXPECT_EQ(report.at_ms, clock.UnixMillis());
  EXPECT_EQ(PostsWith(http, report.id), 1u);  // sent, but the reply was lost

  EXPECT_OK(loop.Tick());  // carried again, acknowledged; v2 is now refused (reported once)
  EXPECT_EQ(PostsWith(http, report.id), 2u);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].outcome, protocol::FailureOutcome::kRefused);
  const std::string refused_id = pending[0].id;
  EXPECT_OK(loop.Tick());
  EXPECT_OK(loop.Tick());
  EXPECT_EQ(PostsWith(http, report.id), 2u);  // never again once acknowledged
  EXPECT_EQ(PostsWith(http, refused_id), 1u);
  EXPECT_TRUE(pending.empty());
  EXPECT_EQ(Active(), v1.bytes);

  // The operator clears the refusal: the reply carries it, the agent resets its count, installs
  // v2 and acknowledges the clearance with its next heartbeat.
  health.healthy = true;
  http.default_body = R"({"status":"ok","assignment":{"model_id":"m","version":"v2","sha256":")" +
                      v2.ref.sha256 + R"(","size_bytes":)" + std::to_string(v2.bytes.size()) +
                      R"(,"campaign_id":"c"},"clear_refusals":[{"id":5,"model_id":"m",)" +
                      R"("version":"v2"}]})";
  EXPECT_OK(loop.Tick());
  EXPECT_EQ(Active(), v2.bytes);
  EXPECT_EQ(loop.pipelines().at("m")->record().poison_failures, 0u);
  EXPECT_NE(http.posts.back().second.find("\"cleared_refusals\":[5]"), std::string::npos)
      << http.posts.back().second;
}

TEST_F(AgentLoopTest, HeartbeatCarriesPlatformAndAnEmptyReportList) {
  AgentLoop loop = MakeLoop(true);
  auto hb = loop.BuildHeartbeat();
  ASSERT_TRUE(hb.platform.has_value());
  EXPECT_FALSE(hb.platform->os.empty());
  EXPECT_FALSE(hb.platform->arch.empty());
  ASSERT_TRUE(hb.reports.has_value());  // tells the server this agent reports its failures
  EXPECT_TRUE(hb.reports->empty());
}

// A fixed system and disk, no attribute file.
class StaticInventory final : public InventorySource {
 public:
  protocol::Inventory System() override {
    protocol::Inventory inv;
    inv.os = "linux";
    inv.arch = "riscv64";
    return inv;
  }
  Result<uint64_t> FreeDiskBytes() override { return uint64_t{1} << 30; }
  bool HasAttributesFile() const override { return false; }
  Result<int64_t> AttributesMtime() override { return NotFound("none"); }
  Result<std::string> ReadAttributes() override { return NotFound("none"); }
};

TEST_F(AgentLoopTest, InventoryGoesWithTheFirstAcknowledgedHeartbeatOnly) {
  StaticInventory source;
  InventoryReporter inventory(source, [](const std::string&) {});
  AgentOptions o;
  o.pipeline = Options();
  o.pipeline.should_stop = nullptr;
  o.inventory = &inventory;
  AgentLoop loop({fs, dl, health, clock, control, quick}, o);
  http.replies.push_back(HttpReply{503, R"({"error":{"code":"unavailable","message":"x"}})"});
  EXPECT_STATUS(loop.Tick(), ErrorCode::kUnavailable);
  ASSERT_OK(loop.Tick());
  ASSERT_OK(loop.Tick());
  ASSERT_EQ(http.posts.size(), 3u);
  EXPECT_NE(http.posts[0].second.find(R"("arch":"riscv64")"), std::string::npos);
  EXPECT_NE(http.posts[1].second.find(R"("inventory":)"), std::string::npos);  // the 503
  EXPECT_EQ(http.posts[2].second.find(R"("inventory":)"), std::string::npos);
}

}  // namespace
}  // namespace oxide::agent
