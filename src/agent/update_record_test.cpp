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
  r.previous = r.installed;
  r.download = {true, true, "\"etag\"", "", 5, 9};
  r.poison_version = "v2";
  r.poison_failures = 2;
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
  EXPECT_EQ(back->download.etag, "\"etag\"");
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
