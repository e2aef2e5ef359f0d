#include "agent/transitions.hpp"

#include <gtest/gtest.h>

#include <set>
#include <utility>

#include "testing/status_matchers.hpp"

namespace oxide::agent {
namespace {

TEST(Transitions, TableHasNoDuplicatePairs) {
  std::set<std::pair<OtaState, OtaEvent>> seen;
  for (const Transition& t : TransitionTable()) {
    EXPECT_TRUE(seen.insert({t.from, t.event}).second)
        << ToString(t.from) << " + " << ToString(t.event);
  }
}

TEST(Transitions, EveryRowIsFoundByNextState) {
  for (const Transition& t : TransitionTable()) {
    auto next = NextState(t.from, t.event);
    ASSERT_TRUE(next.ok());
    EXPECT_EQ(*next, t.to);
  }
}

TEST(Transitions, UnknownPairIsAnError) {
  EXPECT_STATUS(NextState(OtaState::kIdle, OtaEvent::kHealthy).status(), ErrorCode::kInternal);
  EXPECT_STATUS(NextState(OtaState::kActivated, OtaEvent::kSuperseded).status(),
                ErrorCode::kInternal);
}

TEST(Transitions, EveryStateIsReachableAndLeavable) {
  std::set<OtaState> from, to;
  for (const Transition& t : TransitionTable()) {
    from.insert(t.from);
    to.insert(t.to);
  }
  EXPECT_EQ(from.size(), static_cast<size_t>(kNumOtaStates));
  EXPECT_EQ(to.size(), static_cast<size_t>(kNumOtaStates));
}

TEST(Transitions, MarkdownHasOneLinePerRow) {
  std::string md = TransitionTableMarkdown();
  size_t lines = static_cast<size_t>(std::count(md.begin(), md.end(), '\n'));
  EXPECT_EQ(lines, TransitionTable().size() + 2);
  EXPECT_NE(md.find("| idle | assigned | downloading |"), std::string::npos);
}

}  // namespace
}  // namespace oxide::agent
