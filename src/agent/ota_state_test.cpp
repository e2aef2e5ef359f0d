#include "agent/ota_state.hpp"

#include <gtest/gtest.h>

#include "agent/update_record.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::agent {
namespace {

TEST(OtaState, EveryStateRoundTrips) {
  for (int i = 0; i < kNumOtaStates; ++i) {
    auto s = static_cast<OtaState>(i);
    auto parsed = ParseOtaState(ToString(s));
    ASSERT_TRUE(parsed.ok()) << ToString(s);
    EXPECT_EQ(*parsed, s);
  }
}

TEST(OtaState, EveryEventRoundTrips) {
  for (int i = 0; i < kNumOtaEvents; ++i) {
    auto e = static_cast<OtaEvent>(i);
    auto parsed = ParseOtaEvent(ToString(e));
    ASSERT_TRUE(parsed.ok()) << ToString(e);
    EXPECT_EQ(*parsed, e);
  }
}

TEST(OtaState, RejectsUnknownNames) {
  EXPECT_STATUS(ParseOtaState("exploded").status(), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(ParseOtaEvent("").status(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ToString(static_cast<OtaState>(200)), "invalid");
}

TEST(Outcome, RoundTrips) {
  for (Outcome o : {Outcome::kNone, Outcome::kCommitted, Outcome::kRolledBack, Outcome::kFailed}) {
    auto parsed = ParseOutcome(ToString(o));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, o);
  }
}

}  // namespace
}  // namespace oxide::agent
