#include "protocol/heartbeat.hpp"

#include <gtest/gtest.h>

#include "protocol/ids.hpp"

namespace oxide::protocol {
namespace {

TEST(Heartbeat, RequestRoundTrip) {
  HeartbeatRequest r;
  r.current_model = "m";
  r.current_model_version = "v1";
  r.models.push_back({"m", "v1", std::string(64, 'a')});
  r.update = UpdateProgress{"m", "v2", UpdateStage::kDownloading, 10, 100, true, "", false};
  auto back = ParseHeartbeatRequest(ToJson(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back->current_model_version, "v1");
  ASSERT_EQ(back->models.size(), 1u);
  ASSERT_TRUE(back->update.has_value());
  EXPECT_EQ(back->update->stage, UpdateStage::kDownloading);
  EXPECT_EQ(back->update->bytes_done, 10u);
  EXPECT_TRUE(back->update->via_patch);
}

TEST(Heartbeat, EmptyBodyIsTimestampOnly) {
  auto r = ParseHeartbeatRequest("");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->current_model.has_value());
}

TEST(Heartbeat, RejectsWrongTypes) {
  EXPECT_EQ(ParseHeartbeatRequest("{").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseHeartbeatRequest("[]").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseHeartbeatRequest(R"({"current_model":5})").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseHeartbeatRequest(R"({"update":{"model_id":"m","version":"v","stage":"zzz"}})")
                .status()
                .code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseHeartbeatRequest(
                R"({"update":{"model_id":"m","version":"v","stage":"idle","bytes_done":-1}})")
                .status()
                .code(),
            ErrorCode::kInvalidArgument);
}

TEST(Heartbeat, StageNamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(UpdateStage::kRolledBack); ++i) {
    auto s = static_cast<UpdateStage>(i);
    EXPECT_EQ(*ParseUpdateStage(ToString(s)), s);
  }
}

TEST(Heartbeat, ResponseRoundTripKeepsReferenceFields) {
  HeartbeatResponse r;
  r.assignment = Assignment{"m", "v2", std::string(64, 'b'), 42, "c1", ""};
  std::string js = ToJson(r);
  EXPECT_NE(js.find("\"assigned_model_version\":\"v2\""), std::string::npos);
  auto back = ParseHeartbeatResponse(js);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->assignment->size_bytes, 42u);
  auto none = ParseHeartbeatResponse(ToJson(HeartbeatResponse{}));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->assignment.has_value());
}

TEST(Heartbeat, FailureEnumsRoundTrip) {
  for (int i = 0; i <= static_cast<int>(FailureOutcome::kRefused); ++i) {
    auto o = static_cast<FailureOutcome>(i);
    EXPECT_EQ(*ParseFailureOutcome(ToString(o)), o);
  }
  for (int i = 0; i <= static_cast<int>(FailureStage::kPreflight); ++i) {
    auto s = static_cast<FailureStage>(i);
    EXPECT_EQ(*ParseFailureStage(ToString(s)), s);
  }
  EXPECT_EQ(ParseFailureStage("nope").status().code(), ErrorCode::kInvalidArgument);
}

TEST(Heartbeat, ReportsPlatformAndAcksRoundTrip) {
  HeartbeatRequest r;
  r.platform = Platform{"linux", "aarch64", 4};
  r.reports.emplace();
  FailureReport f;
  f.id = "a1b2-7";
  f.model_id = "m";
  f.version = "v2";
  f.campaign_id = "c-1";
  f.outcome = FailureOutcome::kRolledBack;
  f.stage = FailureStage::kHealthCheck;
  f.exit_status = 3;
  f.error = "health check of v2 failed";
  f.output = "bad \xff output";  // invalid UTF-8 must not break the encoder
  f.at_ms = 1234;
  r.reports->push_back(f);
  f.id = "a1b2-8";
  f.outcome = FailureOutcome::kFailed;
  f.local = true;
  f.exit_status.reset();
  r.reports->push_back(f);
  r.cleared_refusals = {7, 9};
  r.update = UpdateProgress{"m", "v2", UpdateStage::kRolledBack, 0, 0, false, "x", true};
  auto back = ParseHeartbeatRequest(ToJson(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_TRUE(back->platform.has_value());
  EXPECT_EQ(back->platform->arch, "aarch64");
  EXPECT_EQ(back->platform->cpu_count, 4u);
  ASSERT_TRUE(back->reports.has_value());
  ASSERT_EQ(back->reports->size(), 2u);
  const auto& a = (*back->reports)[0];
  EXPECT_EQ(a.outcome, FailureOutcome::kRolledBack);
  EXPECT_EQ(a.stage, FailureStage::kHealthCheck);
  EXPECT_EQ(a.exit_status, 3);
  EXPECT_EQ(a.campaign_id, "c-1");
  EXPECT_EQ(a.at_ms, 1234);
  EXPECT_FALSE(a.local);
  EXPECT_TRUE((*back->reports)[1].local);
  EXPECT_FALSE((*back->reports)[1].exit_status.has_value());
  EXPECT_EQ(back->cleared_refusals, (std::vector<int64_t>{7, 9}));
  EXPECT_TRUE(back->update->local_fault);
  // An agent that does not know reports sends none: absent, not empty.
  EXPECT_FALSE(ParseHeartbeatRequest("{}")->reports.has_value());
  EXPECT_TRUE(ParseHeartbeatRequest(R"({"reports":[]})")->reports.has_value());
  EXPECT_EQ(ParseHeartbeatRequest(R"({"reports":[{"id":"x","model_id":"m","version":"v",
      "outcome":"exploded"}]})")
                .status()
                .code(),
            ErrorCode::kInvalidArgument);
}

TEST(Heartbeat, ParsesTheReferenceFailureReport) {
  auto failed = ParseHeartbeatRequest(
      R"({"current_model":"m","current_model_version":"v1","status":"online",
          "last_update_result":{"failed":{"error":"health check exited 1: bad"}},"metrics":null})");
  ASSERT_TRUE(failed.ok()) << failed.status().ToString();
  ASSERT_TRUE(failed->last_update_result.has_value());
  EXPECT_TRUE(failed->last_update_result->failed);
  EXPECT_EQ(failed->last_update_result->error, "health check exited 1: bad");
  auto success = ParseHeartbeatRequest(R"({"last_update_result":"success"})");
  ASSERT_TRUE(success.ok());
  EXPECT_FALSE(success->last_update_result->failed);
  EXPECT_FALSE(
      ParseHeartbeatRequest(R"({"last_update_result":null})")->last_update_result.has_value());
  EXPECT_EQ(ParseHeartbeatRequest(R"({"last_update_result":"meh"})").status().code(),
            ErrorCode::kInvalidArgument);
  HeartbeatRequest r;
  r.last_update_result = LastUpdateResult{true, "boom"};
  EXPECT_EQ(ParseHeartbeatRequest(ToJson(r))->last_update_result->error, "boom");
}

TEST(Heartbeat, ResponseCarriesRefusalClearances) {
  HeartbeatResponse r;
  r.clear_refusals.push_back(RefusalClearance{12, "m", "v2"});
  auto back = ParseHeartbeatResponse(ToJson(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->clear_refusals.size(), 1u);
  EXPECT_EQ(back->clear_refusals[0].id, 12);
  EXPECT_EQ(back->clear_refusals[0].version, "v2");
  EXPECT_TRUE(ParseHeartbeatResponse(ToJson(HeartbeatResponse{}))->clear_refusals.empty());
}

TEST(Heartbeat, AssignmentCarriesTheReleaseObject) {
  HeartbeatResponse r;
  r.assignment = Assignment{"m", "v2", std::string(64, 'a'),
                            5,   "c1", R"({"payload":"e30=","payload_type":"t","signatures":[]})"};
  std::string text = ToJson(r);
  EXPECT_NE(text.find(R"("release":{"payload":"e30=")"), std::string::npos) << text;
  auto back = ParseHeartbeatResponse(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->assignment->release, r.assignment->release);
  r.assignment->release.clear();
  back = ParseHeartbeatResponse(ToJson(r));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->assignment->release.empty());
  EXPECT_FALSE(ParseHeartbeatResponse(
                   R"({"assignment":{"model_id":"m","version":"v","sha256":"x","release":"no"}})")
                   .ok());
}

TEST(Heartbeat, AssignmentCarriesTheSignatureOverrideAndGoldenCheck) {
  HeartbeatResponse r;
  r.assignment = Assignment{"m", "v2", std::string(64, 'a'), 5, "c1", ""};
  auto back = ParseHeartbeatResponse(ToJson(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_FALSE(back->assignment->signature_change_allowed);
  EXPECT_TRUE(back->assignment->golden_sha256.empty());
  r.assignment->signature_change_allowed = true;
  r.assignment->golden_sha256 = std::string(64, 'b');
  r.assignment->golden_size = 321;
  back = ParseHeartbeatResponse(ToJson(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->assignment->signature_change_allowed);
  EXPECT_EQ(back->assignment->golden_sha256, std::string(64, 'b'));
  EXPECT_EQ(back->assignment->golden_size, 321u);
  EXPECT_FALSE(ParseHeartbeatResponse(
                   R"({"assignment":{"model_id":"m","version":"v","sha256":"x","golden":"no"}})")
                   .ok());
}

TEST(Ids, OneCharacterSetForServerAgentAndDocs) {
  EXPECT_TRUE(IsValidId("cam-01.a_B"));
  for (const std::string& bad :
       {std::string(""), std::string("."), std::string(".."), std::string("a+b"),
        std::string("a/b"), std::string("a b"), std::string(129, 'a')}) {
    EXPECT_FALSE(IsValidId(bad)) << bad;
  }
  EXPECT_TRUE(IsValidId(std::string(128, 'a')));
}

}  // namespace
}  // namespace oxide::protocol
