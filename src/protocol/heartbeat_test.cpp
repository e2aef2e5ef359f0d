#include "protocol/heartbeat.hpp"

#include <gtest/gtest.h>

namespace oxide::protocol {
namespace {

TEST(Heartbeat, RequestRoundTrip) {
  HeartbeatRequest r;
  r.current_model = "m";
  r.current_model_version = "v1";
  r.models.push_back({"m", "v1", std::string(64, 'a')});
  r.update = UpdateProgress{"m", "v2", UpdateStage::kDownloading, 10, 100, true, ""};
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
  r.assignment = Assignment{"m", "v2", std::string(64, 'b'), 42, "c1"};
  std::string js = ToJson(r);
  EXPECT_NE(js.find("\"assigned_model_version\":\"v2\""), std::string::npos);
  auto back = ParseHeartbeatResponse(js);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->assignment->size_bytes, 42u);
  auto none = ParseHeartbeatResponse(ToJson(HeartbeatResponse{}));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->assignment.has_value());
}

}  // namespace
}  // namespace oxide::protocol
