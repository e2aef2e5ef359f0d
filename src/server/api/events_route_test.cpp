// GET /api/v1/events at the router: the stream body it returns, without sockets.
#include "server/api/events_route.hpp"

#include <gtest/gtest.h>

#include "server/api/internal/json_util.hpp"
#include "server/service/test_env.hpp"

namespace oxide::server::api {
namespace {

class EventsRouteTest : public ::testing::Test {
 protected:
  Response Get(const std::string& query) {
    Request r;
    r.path = "/api/v1/events";
    r.query = query;
    r.With("authorization", "Bearer " + env.admin_token);
    return env.router->Handle(r);
  }
  server::testing::TestEnv env;
};

TEST_F(EventsRouteTest, StreamsHelloThenEvents) {
  auto r = Get("");
  ASSERT_EQ(r.status, 200);
  ASSERT_NE(r.stream, nullptr);
  EXPECT_EQ(r.Header("content-type"), "text/event-stream");
  int wakes = 0;
  r.stream->Start([&] { ++wakes; });
  std::string out;
  EXPECT_TRUE(r.stream->Read(&out));
  EXPECT_EQ(out, "event: hello\ndata: {\"last_event_id\":0,\"stream_id\":\"" +
                     env.events->stream_id() + "\"}\n\n");
  env.events->Publish(EventType::kPatchBuilt, R"({"model_id":"m","ts":"t"})");
  EXPECT_EQ(wakes, 1);
  out.clear();
  EXPECT_TRUE(r.stream->Read(&out));
  EXPECT_EQ(out, "id: 1\nevent: patch.built\ndata: {\"model_id\":\"m\",\"ts\":\"t\"}\n\n");
  EXPECT_FALSE(r.stream->Over());
}

TEST_F(EventsRouteTest, GapAddsResetAfterHello) {
  auto r = Get("last_event_id=5");
  ASSERT_NE(r.stream, nullptr);
  std::string out;
  r.stream->Read(&out);
  EXPECT_NE(out.find("event: reset\ndata: {\"reason\":\"gap\"}\n\n"), std::string::npos) << out;
}

TEST_F(EventsRouteTest, RejectsUnknownTypesAndBadIds) {
  EXPECT_EQ(Get("types=campaign,bogus").status, 422);
  EXPECT_EQ(Get("types=").status, 422);
  EXPECT_EQ(Get("last_event_id=-1").status, 422);
  EXPECT_EQ(Get("device=a%2Fb").status, 422);
  EXPECT_EQ(Get("types=campaign%2Cpatch&device=d1").status, 200);
}

TEST_F(EventsRouteTest, MetricsCountOpenStreamsAtScrapeTime) {
  auto gauge = [&] {
    Request m;
    m.path = "/metrics";
    m.With("authorization", "Bearer " + env.admin_token);
    const std::string body = env.router->Handle(m).body;
    const auto at = body.find("\noxide_event_streams ");
    return at == std::string::npos ? std::string("absent")
                                   : body.substr(at + 1, body.find('\n', at + 1) - at - 1);
  };
  EXPECT_EQ(gauge(), "oxide_event_streams 0");
  {
    auto r = Get("");
    ASSERT_NE(r.stream, nullptr);
    EXPECT_EQ(gauge(), "oxide_event_streams 1");
  }
  EXPECT_EQ(gauge(), "oxide_event_streams 0");  // the stream's body went: so did the subscriber
}

TEST_F(EventsRouteTest, TooManyStreamsIs503InTheStandardErrorShape) {
  std::vector<std::unique_ptr<EventSubscription>> open;
  while (true) {
    auto sub = env.events->Subscribe({});
    if (!sub.ok()) break;
    open.push_back(std::move(sub).value());
    ASSERT_LE(open.size(), 100'000u);
  }
  auto r = Get("");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.stream, nullptr);
  EXPECT_EQ(r.Header("retry-after"), "5");
  Json body = Json::parse(r.body);
  ASSERT_TRUE(body["error"].is_object()) << r.body;
  EXPECT_EQ(body["error"]["code"], "unavailable");
  EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
}

TEST_F(EventsRouteTest, StreamEndsOnceItsTokenIsNoLongerAuthorized) {
  auto sub = env.events->Subscribe({});
  ASSERT_TRUE(sub.ok());
  bool allowed = true;
  int checks = 0;
  auto body = MakeEventStreamBody(std::move(sub).value(), env.events->stream_id(),
                                  std::chrono::milliseconds(0), [&] {
                                    ++checks;
                                    return allowed;
                                  });
  body->Start([] {});
  std::string out;
  EXPECT_TRUE(body->Read(&out));
  env.events->Publish(EventType::kPatchBuilt, R"({"model_id":"m","ts":"t"})");
  allowed = false;  // the token was revoked
  out.clear();
  EXPECT_FALSE(body->Read(&out));
  EXPECT_EQ(out, "") << "nothing is handed over after the revocation";
  EXPECT_GE(checks, 2);
}

TEST_F(EventsRouteTest, OneTokenCannotTakeEveryStream) {
  std::vector<Response> open;
  for (int i = 0; i < 16; ++i) {
    open.push_back(Get(""));
    ASSERT_EQ(open.back().status, 200) << i;
  }
  auto refused = Get("");
  EXPECT_EQ(refused.status, 503) << refused.body;
  // Another caller (no owner here: a direct subscription) still gets a stream.
  EXPECT_TRUE(env.events->Subscribe({}).ok());
  open.pop_back();
  EXPECT_EQ(Get("").status, 200) << "a closed stream frees its slot";
}

}  // namespace
}  // namespace oxide::server::api
