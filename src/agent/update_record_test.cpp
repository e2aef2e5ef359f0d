#include "agent/update_record.hpp"

#include <gtest/gtest.h>

#include "testing/status_matchers.hpp"

namespace oxide::agent {
namespace {

UpdateRecord SampleRecord() {
  UpdateRecord r;
  r.model_id = "m";
  r.state = OtaState::kDownloading;
  r.installed = ModelRef{"v1", std::string(64, 'a'), 10, "c0"};
  r.target = ModelRef{"v2", std::string(64, 'b'), 20, "c1"};
  r.target->golden_sha256 = std::string(64, 'c');
  r.target->golden_size = 77;
  r.target->signature_change_allowed = true;
  r.previous = r.installed;
  r.download = {true, true, "\"etag\"", "", 5, 9, 4, "patch failed", 2};
  r.poison_version = "v2";
  r.poison_failures = 2;
  r.local_fault = true;
  r.local_failures = 3;
  r.health_attempts = 1;
  r.health_group = HealthGroup{4242, 987654321, "boot-1"};
  r.local_retry = {"v2", std::string(64, 'b'), 3, 1'700'000'060'000};
  r.last_outcome = Outcome::kRolledBack;
  r.last_version = "v0";
  r.last_error = "boom";
  return r;
}

TEST(UpdateRecord, RoundTrips) {
  UpdateRecord r = SampleRecord();
  auto back = DecodeUpdateRecord(EncodeUpdateRecord(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(EncodeUpdateRecord(*back), EncodeUpdateRecord(r));
  EXPECT_EQ(back->state, OtaState::kDownloading);
  EXPECT_EQ(back->target->version, "v2");
  EXPECT_EQ(back->target->golden_sha256, std::string(64, 'c'));
  EXPECT_EQ(back->target->golden_size, 77u);
  EXPECT_TRUE(back->target->signature_change_allowed);
  EXPECT_EQ(back->download.etag, "\"etag\"");
  EXPECT_EQ(back->download.bytes_synced, 4u);
  EXPECT_EQ(back->health_attempts, 1u);
  EXPECT_EQ(back->download.stalled_attempts, 2u);
  ASSERT_TRUE(back->health_group.has_value());
  EXPECT_EQ(back->health_group->pgid, 4242);
  EXPECT_EQ(back->health_group->start_ticks, 987654321u);
  EXPECT_EQ(back->local_retry.failures, 3u);
  EXPECT_EQ(back->local_retry.not_before_unix_ms, 1'700'000'060'000);
}

TEST(UpdateRecord, PendingReportsAndFailureRoundTripAndAreOptional) {
  UpdateRecord r = SampleRecord();
  r.last_local_fault = true;
  r.failure_stage = protocol::FailureStage::kHealthCheck;
  r.failure_exit_status = 3;
  r.failure_output = "no GPU";
  protocol::FailureReport f;
  f.id = "abc";
  f.model_id = "m";
  f.version = "v2";
  f.campaign_id = "c1";
  f.outcome = protocol::FailureOutcome::kRolledBack;
  f.stage = protocol::FailureStage::kHealthCheck;
  f.exit_status = 3;
  f.error = "health check of v2 failed";
  f.output = "no GPU";
  f.at_ms = 77;
  r.pending_reports.push_back(f);
  auto back = DecodeUpdateRecord(EncodeUpdateRecord(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(EncodeUpdateRecord(*back), EncodeUpdateRecord(r));
  ASSERT_EQ(back->pending_reports.size(), 1u);
  EXPECT_EQ(back->pending_reports[0].exit_status, 3);
  EXPECT_EQ(back->pending_reports[0].at_ms, 77);
  EXPECT_EQ(back->failure_exit_status, 3);
  EXPECT_TRUE(back->last_local_fault);
  // A state file written before these fields existed still loads.
  std::string old = EncodeUpdateRecord(SampleRecord());
  for (const char* key : {"pending_reports", "failure", "last_local_fault"}) {
    EXPECT_NE(old.find(key), std::string::npos);
  }
  auto stripped = DecodeUpdateRecord(
      R"({"format_version":1,"model_id":"m","state":"idle","installed":null,"target":null,
          "previous":null,"download":{"full_only":false,"via_patch":false,"etag":"",
          "payload_sha256":"","bytes_done":0,"bytes_total":0},
          "poison":{"version":"","failures":0},"last_outcome":"none","last_version":"",
          "last_error":""})");
  ASSERT_TRUE(stripped.ok()) << stripped.status().ToString();
  EXPECT_TRUE(stripped->pending_reports.empty());
}

TEST(UpdateRecord, ReadsFilesWrittenBeforeTheOptionalFields) {
  const char* old = R"({"format_version": 1, "model_id": "m", "state": "idle", "installed": null,
    "target": null, "previous": null,
    "download": {"full_only": false, "via_patch": false, "etag": "", "payload_sha256": "",
                 "bytes_done": 0, "bytes_total": 0},
    "poison": {"version": "", "failures": 0}, "last_outcome": "none", "last_version": "",
    "last_error": ""})";
  auto back = DecodeUpdateRecord(old);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->download.bytes_synced, 0u);
  EXPECT_FALSE(back->local_fault);
  EXPECT_EQ(back->health_attempts, 0u);
}

TEST(UpdateRecord, RejectsGarbage) {
  EXPECT_STATUS(DecodeUpdateRecord("{not json").status(), ErrorCode::kCorrupt);
  EXPECT_STATUS(DecodeUpdateRecord("{}").status(), ErrorCode::kCorrupt);
}

TEST(UpdateRecord, RejectsOtherFormatVersion) {
  std::string text = EncodeUpdateRecord(SampleRecord());
  text.replace(text.find("\"format_version\": 1"), 19, "\"format_version\": 9");
  EXPECT_STATUS(DecodeUpdateRecord(text).status(), ErrorCode::kUnsupported);
}

TEST(UpdateRecord, RejectsBusyStateWithoutTarget) {
  UpdateRecord r = SampleRecord();
  r.target.reset();
  EXPECT_STATUS(DecodeUpdateRecord(EncodeUpdateRecord(r)).status(), ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace oxide::agent
