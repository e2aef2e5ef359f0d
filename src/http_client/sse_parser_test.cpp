// SseParser over canned text/event-stream bodies, fed whole and in every split.
#include "http_client/sse_parser.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "testing/status_matchers.hpp"

namespace oxide {
namespace {

class SseParserTest : public ::testing::Test {
 protected:
  Status Feed(std::string_view bytes) {
    return parser_.Feed(bytes, [this](const SseEvent& e) {
      events_.push_back(e);
      return Status::Ok();
    });
  }
  SseParser parser_;
  std::vector<SseEvent> events_;
};

constexpr std::string_view kStream =
    ": keepalive\n"
    "id: 1\nevent: hello\ndata: {\"stream_id\":\"ab\",\"last_event_id\":0}\n\n"
    "id: 2\r\nevent: campaign.state\r\ndata: {\"campaign_id\":\"c-1\",\r\ndata:  "
    "\"state\":\"paused\"}\r\n\r\n"
    "retry: 5000\n"
    "data:no space\n\n";

TEST_F(SseParserTest, ParsesEventsIdsTypesAndMultiLineData) {
  ASSERT_OK(Feed(kStream));
  ASSERT_EQ(events_.size(), 3u);
  EXPECT_EQ(events_[0].type, "hello");
  EXPECT_EQ(events_[0].id, "1");
  EXPECT_EQ(events_[0].data, "{\"stream_id\":\"ab\",\"last_event_id\":0}");
  EXPECT_EQ(events_[1].type, "campaign.state");
  EXPECT_EQ(events_[1].id, "2");
  // One leading space is stripped; the second one belongs to the data.
  EXPECT_EQ(events_[1].data, "{\"campaign_id\":\"c-1\",\n \"state\":\"paused\"}");
  EXPECT_EQ(events_[2].type, "message");
  EXPECT_EQ(events_[2].id, "2");  // the last id carries over to events without one
  EXPECT_EQ(events_[2].data, "no space");
  EXPECT_EQ(parser_.last_event_id(), "2");
  EXPECT_EQ(parser_.comments(), std::string_view(": keepalive").size());
}

TEST_F(SseParserTest, AnySplitOfTheStreamGivesTheSameEvents) {
  for (size_t cut = 1; cut < kStream.size(); ++cut) {
    SseParser p;
    std::vector<SseEvent> got;
    auto cb = [&](const SseEvent& e) {
      got.push_back(e);
      return Status::Ok();
    };
    ASSERT_OK(p.Feed(kStream.substr(0, cut), cb));
    ASSERT_OK(p.Feed(kStream.substr(cut), cb));
    ASSERT_EQ(got.size(), 3u) << "cut at " << cut;
    EXPECT_EQ(got[1].data, "{\"campaign_id\":\"c-1\",\n \"state\":\"paused\"}") << cut;
  }
}

TEST_F(SseParserTest, OneByteAtATime) {
  for (char c : kStream) ASSERT_OK(Feed(std::string_view(&c, 1)));
  ASSERT_EQ(events_.size(), 3u);
  EXPECT_EQ(events_[0].type, "hello");
}

TEST_F(SseParserTest, UnfinishedEventIsNotDispatched) {
  ASSERT_OK(Feed("id: 7\nevent: campaign.device\ndata: {}\n"));
  EXPECT_TRUE(events_.empty());
  ASSERT_OK(Feed("\n"));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].type, "campaign.device");
}

TEST_F(SseParserTest, IdWithoutDataMovesTheResumePointButDispatchesNothing) {
  ASSERT_OK(Feed("id: 41\nevent: ignored\n\nid: 42\n\n"));
  EXPECT_TRUE(events_.empty());
  EXPECT_EQ(parser_.last_event_id(), "42");
  ASSERT_OK(Feed("data: x\n\n"));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].type, "message");  // the dropped event's type did not leak
}

TEST_F(SseParserTest, ResetEventIsDeliveredWithItsReason) {
  ASSERT_OK(Feed("id: 9\nevent: reset\ndata: {\"reason\":\"gap\"}\n\n"));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].type, "reset");
  EXPECT_EQ(events_[0].data, "{\"reason\":\"gap\"}");
}

TEST_F(SseParserTest, CallbackErrorStopsTheParse) {
  int seen = 0;
  Status s = parser_.Feed("data: a\n\ndata: b\n\n", [&](const SseEvent&) {
    ++seen;
    return Cancelled("enough");
  });
  EXPECT_STATUS(s, ErrorCode::kCancelled);
  EXPECT_EQ(seen, 1);
}

TEST_F(SseParserTest, OverlongLineIsRefused) {
  std::string big(SseParser::kMaxLine / 2 + 1, 'x');
  ASSERT_OK(Feed("data: " + big));
  EXPECT_STATUS(Feed(big), ErrorCode::kResourceExhausted);
}

TEST_F(SseParserTest, OverlongEventOfShortLinesIsRefused) {
  // Each line is under the line limit; together they would grow one event without bound.
  std::string line = "data: " + std::string(SseParser::kMaxLine / 4, 'y') + "\n";
  Status s = Status::Ok();
  for (int i = 0; i < 8 && s.ok(); ++i) s = Feed(line);
  EXPECT_STATUS(s, ErrorCode::kResourceExhausted);
}

}  // namespace
}  // namespace oxide
