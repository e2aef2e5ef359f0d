// StreamEvents over a fake Downloader that replays canned chunks.
#include "http_client/sse_client.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "testing/status_matchers.hpp"

namespace oxide {
namespace {

class CannedDownloader final : public Downloader {
 public:
  Result<DownloadResult> Get(const DownloadRequest& request, DownloadSink& sink) override {
    requests.push_back(request);
    HttpResponseHead head;
    head.status = status;
    head.headers["content-type"] = content_type;
    OXIDE_RETURN_IF_ERROR(sink.OnResponse(head));
    if (status != 200) return DownloadResult{head, "{\"error\":{\"message\":\"no\"}}"};
    for (const std::string& c : chunks) {
      OXIDE_RETURN_IF_ERROR(sink.OnTick());
      OXIDE_RETURN_IF_ERROR(sink.Write(reinterpret_cast<const uint8_t*>(c.data()), c.size()));
    }
    if (drop) return Unavailable("connection reset");
    return DownloadResult{head, ""};
  }
  int status = 200;
  std::string content_type = "text/event-stream";
  std::vector<std::string> chunks;
  bool drop = false;
  std::vector<DownloadRequest> requests;
};

std::string Header(const DownloadRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(StreamEvents, DeliversEventsAcrossChunksAndSendsTheResumeId) {
  CannedDownloader d;
  d.chunks = {"id: 5\nevent: campaign.st", "ate\ndata: {\"state\":\"paused\"}\n",
              "\n: keepalive\n"};
  std::vector<SseEvent> got;
  auto r = StreamEvents(d, {"http://x/api/v1/events?campaign=c-1", {}, "4", nullptr},
                        [&](const SseEvent& e) {
                          got.push_back(e);
                          return Status::Ok();
                        });
  ASSERT_OK(r.status());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->last_event_id, "5");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, "campaign.state");
  EXPECT_EQ(Header(d.requests[0], "Last-Event-ID"), "4");
  EXPECT_EQ(Header(d.requests[0], "Accept"), "text/event-stream");
}

TEST(StreamEvents, NotFoundIsAReplyNotAnError) {
  CannedDownloader d;
  d.status = 404;
  auto r = StreamEvents(d, {"http://x/api/v1/events", {}, "", nullptr},
                        [](const SseEvent&) { return Status::Ok(); });
  ASSERT_OK(r.status());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(Header(d.requests[0], "Last-Event-ID"), "");
}

TEST(StreamEvents, DropReportsTheLastIdForTheResume) {
  CannedDownloader d;
  d.chunks = {"id: 8\ndata: a\n\nid: 9\ndata: b\n"};  // event 9 is cut off
  d.drop = true;
  std::string last;
  auto r = StreamEvents(
      d, {"http://x/e", {}, "", nullptr}, [](const SseEvent&) { return Status::Ok(); }, &last);
  EXPECT_STATUS(r.status(), ErrorCode::kUnavailable);
  EXPECT_EQ(last, "9");  // id lines take effect as they are read, as the spec says
}

TEST(StreamEvents, AnswerThatIsNotAnEventStreamIsRefused) {
  CannedDownloader d;
  d.content_type = "text/html";
  d.chunks = {"<html>"};
  auto r = StreamEvents(d, {"http://x/e", {}, "", nullptr},
                        [](const SseEvent&) { return Status::Ok(); });
  EXPECT_STATUS(r.status(), ErrorCode::kUnsupported);
}

TEST(StreamEvents, TickErrorEndsTheStream) {
  CannedDownloader d;
  d.chunks = {"data: a\n\n", "data: b\n\n"};
  int ticks = 0;
  int events = 0;
  auto r = StreamEvents(
      d,
      {"http://x/e",
       {},
       "",
       [&]() -> Status { return ++ticks == 2 ? Cancelled("campaign ended") : Status::Ok(); }},
      [&](const SseEvent&) {
        ++events;
        return Status::Ok();
      });
  EXPECT_STATUS(r.status(), ErrorCode::kCancelled);
  EXPECT_EQ(events, 1);
}

}  // namespace
}  // namespace oxide
