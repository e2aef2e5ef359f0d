// Admin commands against fake HTTP seams: which request each command sends, what it prints,
// and how `campaign watch` ends.
#include "cli/admin/admin_commands.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>

#include "testing/fake_clock.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::cli::admin {
namespace {

using Json = nlohmann::json;

// Answers "METHOD PATH" from a script (each entry used once, the last one repeats).
class FakeServer final : public HttpClient, public Downloader, public Uploader {
 public:
  void On(const std::string& call, int status, std::string body) {
    replies[call].push_back(HttpReply{status, std::move(body)});
  }
  Result<HttpReply> Send(const HttpCall& call) override {
    std::string key = call.method + " " + call.url.substr(std::string("http://s").size());
    calls.push_back(key + (call.body.empty() ? "" : " " + call.body));
    return Reply(key);
  }
  Result<HttpReply> Upload(const UploadRequest& up) override {
    std::string key = up.method + " " + up.url.substr(std::string("http://s").size());
    calls.push_back(key + " <" + up.file_path + ">");
    if (up.on_progress) {
      up.on_progress(0, 2048);
      up.on_progress(2048, 2048);
    }
    return Reply(key);
  }
  // The event stream: 404 unless `events` is set; then each chunk after `clock` moved 300 ms.
  Result<DownloadResult> Get(const DownloadRequest& r, DownloadSink& sink) override {
    std::string last_id;
    for (const auto& [k, v] : r.headers) {
      if (k == "Last-Event-ID") last_id = " last=" + v;
    }
    calls.push_back("STREAM " + r.url.substr(std::string("http://s").size()) + last_id);
    HttpResponseHead head;
    head.status = events.empty() ? 404 : 200;
    head.headers["content-type"] = content_type;
    OXIDE_RETURN_IF_ERROR(sink.OnResponse(head));
    if (events.empty()) {
      return DownloadResult{head, R"({"error":{"code":"not_found","message":"no route"}})"};
    }
    std::vector<std::string> chunks = std::move(events.front());
    events.pop_front();
    for (const std::string& c : chunks) {
      clock->Advance(std::chrono::milliseconds(300));
      OXIDE_RETURN_IF_ERROR(sink.OnTick());
      OXIDE_RETURN_IF_ERROR(sink.Write(reinterpret_cast<const uint8_t*>(c.data()), c.size()));
    }
    return Unavailable("stream dropped");
  }
  std::deque<std::vector<std::string>> events;  // one entry per connection
  std::string content_type = "text/event-stream";
  testing::FakeClock* clock = nullptr;
  Result<HttpReply> Reply(const std::string& key) {
    auto it = replies.find(key);
    if (it == replies.end()) return HttpReply{404, R"({"error":{"message":"unscripted"}})"};
    HttpReply r = it->second.front();
    if (it->second.size() > 1) it->second.pop_front();
    return r;
  }
  std::map<std::string, std::deque<HttpReply>> replies;
  std::vector<std::string> calls;
};

class AdminCommandsTest : public ::testing::Test {
 protected:
  AdminCommandsTest() : out_(std::tmpfile()), err_(std::tmpfile()) { server_.clock = &clock_; }
  ~AdminCommandsTest() override {
    std::fclose(out_);
    std::fclose(err_);
  }
  Result<int> Run(AdminArgs a, bool tty = false) {
    AdminClient client(AdminConfig{"http://s", "tok", ""}, server_, server_, server_);
    Console console{out_, err_, tty, tty, a.flags.json};
    AdminContext ctx{client, console, clock_};
    return RunAdminCommand(a, ctx);
  }
  static std::string Read(std::FILE* f) {
    std::fflush(f);
    std::rewind(f);
    std::string s;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    return s;
  }
  std::string Out() { return Read(out_); }
  static AdminArgs Args(AdminCommand c, std::string id = "") {
    AdminArgs a;
    a.command = c;
    a.id = std::move(id);
    return a;
  }
  FakeServer server_;
  testing::FakeClock clock_;
  std::FILE* out_;
  std::FILE* err_;
};

TEST_F(AdminCommandsTest, DeviceAcceptPostsToItsRoute) {
  server_.On("POST /api/v1/devices/cam-1/accept", 200, R"({"status":"accepted"})");
  ASSERT_OK(Run(Args(AdminCommand::kDeviceAccept, "cam-1")).status());
  EXPECT_EQ(server_.calls, std::vector<std::string>{"POST /api/v1/devices/cam-1/accept {}"});
  EXPECT_EQ(Out(), "device cam-1: accepted\n");
}

TEST_F(AdminCommandsTest, DeviceTagKeepsTheOtherTags) {
  server_.On("GET /api/v1/devices/cam-1", 200, R"({"id":"cam-1","tags":{"hw":"rpi4","site":"a"}})");
  server_.On("PUT /api/v1/devices/cam-1/tags", 200,
             R"({"id":"cam-1","tags":{"hw":"rpi4","room":"3","site":"lyon"}})");
  AdminArgs a = Args(AdminCommand::kDeviceTag, "cam-1");
  a.set_tags = {"site=lyon", "room=3"};
  ASSERT_OK(Run(a).status());
  EXPECT_EQ(server_.calls,
            (std::vector<std::string>{
                "GET /api/v1/devices/cam-1",
                R"(PUT /api/v1/devices/cam-1/tags {"hw":"rpi4","room":"3","site":"lyon"})"}));
  EXPECT_EQ(Out(), "device cam-1: tags hw=rpi4, room=3, site=lyon\n");
}

TEST_F(AdminCommandsTest, DeviceTagClearAndRemove) {
  server_.On("GET /api/v1/devices/cam-1", 200, R"({"id":"cam-1","tags":{"hw":"rpi4","site":"a"}})");
  server_.On("PUT /api/v1/devices/cam-1/tags", 200, R"({"id":"cam-1","tags":{}})");
  AdminArgs a = Args(AdminCommand::kDeviceTag, "cam-1");
  a.remove_tags = {"hw"};
  ASSERT_OK(Run(a).status());
  AdminArgs c = Args(AdminCommand::kDeviceTag, "cam-1");
  c.clear_tags = true;
  c.set_tags = {"x=1"};
  ASSERT_OK(Run(c).status());
  EXPECT_EQ(server_.calls,
            (std::vector<std::string>{"GET /api/v1/devices/cam-1",
                                      R"(PUT /api/v1/devices/cam-1/tags {"site":"a"})",
                                      R"(PUT /api/v1/devices/cam-1/tags {"x":"1"})"}));
}

TEST_F(AdminCommandsTest, DeviceTagRefusesNothingOrABadPairBeforeAnyCall) {
  EXPECT_STATUS(Run(Args(AdminCommand::kDeviceTag, "cam-1")).status(), ErrorCode::kInvalidArgument);
  AdminArgs a = Args(AdminCommand::kDeviceTag, "cam-1");
  a.set_tags = {"=x"};
  EXPECT_STATUS(Run(a).status(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(server_.calls.empty());
}

TEST_F(AdminCommandsTest, DeviceShowHasInventoryAndTags) {
  server_.On("GET /api/v1/devices/cam-1", 200, R"({"id":"cam-1","tags":{"site":"lyon"},
      "inventory":{"os":"linux","os_version":"Debian 12","arch":"aarch64",
                   "agent_version":"0.1.0","free_disk_bytes":2147483648,
                   "attributes":{"camera":"imx477"}}})");
  ASSERT_OK(Run(Args(AdminCommand::kDeviceShow, "cam-1")).status());
  std::string out = Out();
  EXPECT_NE(out.find("inventory:    linux Debian 12 aarch64, agent 0.1.0, 2.0 GiB free\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("attributes:   camera=imx477\n"), std::string::npos) << out;
  EXPECT_NE(out.find("tags:         site=lyon\n"), std::string::npos) << out;
}

TEST_F(AdminCommandsTest, FleetAddAddsEachDevice) {
  server_.On("POST /api/v1/fleets/cams/devices/a", 200, R"({"status":"added"})");
  server_.On("POST /api/v1/fleets/cams/devices/b", 200, R"({"status":"added"})");
  AdminArgs a = Args(AdminCommand::kFleetAdd, "cams");
  a.ids = {"a", "b"};
  ASSERT_OK(Run(a).status());
  EXPECT_EQ(server_.calls.size(), 2u);
  EXPECT_EQ(Out(), "fleet cams: added a\nfleet cams: added b\n");
}

TEST_F(AdminCommandsTest, RefusalIsTheServersLine) {
  server_.On("DELETE /api/v1/devices/x", 403,
             R"({"error":"forbidden","message":"viewer tokens may only read"})");
  Result<int> r = Run(Args(AdminCommand::kDeviceRemove, "x"));
  EXPECT_STATUS(r.status(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(), "403: viewer tokens may only read");
  EXPECT_EQ(Out(), "");
}

TEST_F(AdminCommandsTest, DeviceListIsATable) {
  server_.On("GET /api/v1/devices?limit=1000", 200,
             R"([{"id":"cam-1","status":"online","auth_state":"accepted","current_model":"m",
                  "current_model_version":"v1","assigned_model":null,
                  "last_heartbeat":"2026-11-27T15:01:14.123Z"}])");
  ASSERT_OK(Run(Args(AdminCommand::kDeviceList)).status());
  EXPECT_EQ(Out(),
            "ID     STATUS  AUTH      MODEL  ASSIGNED  LAST SEEN\n"
            "cam-1  online  accepted  m v1   -         2026-11-27 15:01:14\n");
}

TEST_F(AdminCommandsTest, DeviceListFollowsPages) {
  Json page = Json::array();
  for (int i = 0; i < 1000; ++i) page.push_back({{"id", "d" + std::to_string(10000 + i)}});
  server_.On("GET /api/v1/devices?limit=1000", 200, page.dump());
  server_.On("GET /api/v1/devices?limit=1000&after=d10999", 200, R"([{"id":"d11000"}])");
  AdminArgs a = Args(AdminCommand::kDeviceList);
  a.flags.json = true;
  ASSERT_OK(Run(a).status());
  EXPECT_EQ(Json::parse(Out()).size(), 1001u);
}

TEST_F(AdminCommandsTest, DeviceListStopsWhenTheServerDoesNotPage) {
  Json page = Json::array();
  for (int i = 0; i < 1000; ++i) page.push_back({{"id", "d" + std::to_string(10000 + i)}});
  server_.On("GET /api/v1/devices?limit=1000", 200, page.dump());
  server_.On("GET /api/v1/devices?limit=1000&after=d10999", 200, page.dump());  // ignores after
  AdminArgs a = Args(AdminCommand::kDeviceList);
  a.flags.json = true;
  ASSERT_OK(Run(a).status());
  EXPECT_EQ(Json::parse(Out()).size(), 1000u);
  EXPECT_EQ(server_.calls.size(), 2u);
}

TEST_F(AdminCommandsTest, JsonPrintsTheServersJson) {
  server_.On("GET /api/v1/models", 200, R"({"models":[]})");
  AdminArgs a = Args(AdminCommand::kModelList);
  a.flags.json = true;
  ASSERT_OK(Run(a).status());
  EXPECT_EQ(Json::parse(Out()), Json::parse(R"({"models":[]})"));
}

TEST_F(AdminCommandsTest, CampaignCreateMapsEveryOption) {
  server_.On("POST /api/v1/campaigns", 201,
             R"({"id":"c-1","model_id":"m","target_version":"v2","total_devices":3,
                 "strategy":"canary","state":"rolling_out"})");
  AdminArgs a = Args(AdminCommand::kCampaignCreate);
  a.campaign = CampaignSpec{"m", "v2", "cams",        "canary",         20,  -1,
                            2,   50,   {"site=lyon"}, {"arch=aarch64"}, true};
  ASSERT_OK(Run(a).status());
  ASSERT_EQ(server_.calls.size(), 1u);
  std::string call = server_.calls[0];
  Json body = Json::parse(call.substr(call.find('{')));
  EXPECT_EQ(body, Json::parse(R"({"model_id":"m","model_version":"v2","fleet_id":"cams",
      "strategy":"canary","canary_percent":20,"failure_threshold_count":2,
      "failure_threshold_percent":50,"require_approval":true,
      "target":{"tags":{"site":"lyon"},"inventory":{"arch":"aarch64"}}})"));
  EXPECT_EQ(Out(), "created campaign c-1: m v2 to 3 devices (canary), rolling_out\n");
}

TEST_F(AdminCommandsTest, CampaignBodyRefusesWhatTheServerWouldNotUnderstand) {
  CampaignSpec s;
  s.model = "m";
  s.version = "v";
  s.fleet = "f";
  s.strategy = "all-at-once";
  EXPECT_EQ(Json::parse(*CampaignBody(s))["strategy"], "all_at_once");
  EXPECT_FALSE(Json::parse(*CampaignBody(s)).contains("allow_signature_change"));
  s.allow_signature_change = true;
  EXPECT_EQ(Json::parse(*CampaignBody(s))["allow_signature_change"], true);
  s.allow_signature_change = false;
  s.tags = {"novalue"};
  EXPECT_STATUS(CampaignBody(s).status(), ErrorCode::kInvalidArgument);
  CampaignSpec nobody = s;
  nobody.tags.clear();
  nobody.fleet.clear();
  EXPECT_STATUS(CampaignBody(nobody).status(), ErrorCode::kInvalidArgument);
}

TEST_F(AdminCommandsTest, ModelPushStreamsTheFileAndWaitsForThePatches) {
  const std::string meta = "GET /api/v1/models/m/versions/v2/meta";
  server_.On("POST /api/v1/models/m/versions/v2", 201, R"({"sha256":"ab"})");
  std::string pending = R"({"size_bytes":2048,"sha256":"abcdef","format":"onnx",
      "tensor_count":4,"patches":[{"base_version":"v1","state":"pending"}]})";
  server_.On(meta, 200, pending);
  server_.On(meta, 200, pending);
  server_.On(meta, 200, R"({"size_bytes":2048,"sha256":"abcdef","format":"onnx",
      "tensor_count":4,"patches":[{"base_version":"v1","state":"ready","strategy":"tensor",
      "size_bytes":512}]})");
  AdminArgs a = Args(AdminCommand::kModelPush);
  a.file = "/models/v2.onnx";
  a.model = "m";
  a.version = "v2";
  ASSERT_OK(Run(a).status());
  // No event stream on this server (404): polled with backoff, at 0.5 s and 1.5 s.
  EXPECT_EQ(server_.calls,
            (std::vector<std::string>{"POST /api/v1/models/m/versions/v2 </models/v2.onnx>", meta,
                                      "STREAM /api/v1/events?types=patch", meta, meta}));
  EXPECT_EQ(Out(),
            "uploaded m v2: 2.0 KiB, sha256 abcdef\n"
            "format: onnx, 4 tensors\n"
            "patches:\n"
            "FROM  STATE  STRATEGY   SIZE  SAVED\n"
            "v1    ready  tensor    512 B  75.0%\n");
  EXPECT_EQ(Read(err_), "");  // no progress bar when stderr is not a terminal
}

TEST_F(AdminCommandsTest, ModelGoldenUploadsWithPutAndRemoves) {
  const std::string path = "/api/v1/models/m/versions/v2/golden";
  server_.On("PUT " + path, 200,
             R"({"sha256":"0123456789abcdef00","size_bytes":2048,"tolerance":0.0001,)"
             R"("latency_budget_ms":25})");
  AdminArgs a = Args(AdminCommand::kModelGolden);
  a.model = "m";
  a.version = "v2";
  a.file = "/golden/v2.safetensors";
  ASSERT_OK(Run(a).status());
  EXPECT_EQ(server_.calls, (std::vector<std::string>{"PUT " + path + " </golden/v2.safetensors>"}));
  EXPECT_EQ(Out(),
            "golden file of m v2: 2.0 KiB, sha256 0123456789abcdef, tolerance 0.0001, latency "
            "budget 25 ms\n");
  server_.On("DELETE " + path, 200, R"({"status":"removed"})");
  a.file.clear();
  a.remove = true;
  ASSERT_OK(Run(a).status());
  EXPECT_EQ(server_.calls.back(), "DELETE " + path);
  EXPECT_EQ(Out(),
            "golden file of m v2: 2.0 KiB, sha256 0123456789abcdef, tolerance 0.0001, latency "
            "budget 25 ms\nremoved the golden file of m v2\n");
}

TEST_F(AdminCommandsTest, ModelGoldenNeedsAFileOrRemoveButNotBoth) {
  AdminArgs a = Args(AdminCommand::kModelGolden);
  a.model = "m";
  a.version = "v2";
  EXPECT_STATUS(Run(a).status(), ErrorCode::kInvalidArgument);
  a.file = "/golden/v2.safetensors";
  a.remove = true;
  EXPECT_STATUS(Run(a).status(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(server_.calls.empty());
}

TEST_F(AdminCommandsTest, ModelPushDrawsAProgressBarOnATerminal) {
  server_.On("POST /api/v1/models/m/versions/v2", 201, "{}");
  server_.On("GET /api/v1/models/m/versions/v2/meta", 200, R"({"patches":[]})");
  AdminArgs a = Args(AdminCommand::kModelPush);
  a.model = "m";
  a.version = "v2";
  ASSERT_OK(Run(a, /*tty=*/true).status());
  EXPECT_EQ(Read(err_),
            "\r[                              ]   0% 0 B / 2.0 KiB"
            "\r[##############################] 100% 2.0 KiB / 2.0 KiB\n");
}

TEST_F(AdminCommandsTest, ModelPushWaitIsBounded) {
  server_.On("POST /api/v1/models/m/versions/v2", 201, "{}");
  server_.On("GET /api/v1/models/m/versions/v2/meta", 200,
             R"({"patches":[{"base_version":"v1","state":"pending"}]})");
  AdminArgs a = Args(AdminCommand::kModelPush);
  a.model = "m";
  a.version = "v2";
  a.wait_seconds = 5;
  auto start = clock_.Now();
  ASSERT_OK(Run(a).status());
  EXPECT_EQ(clock_.Now() - start, std::chrono::seconds(5));
  EXPECT_NE(Read(err_).find("still building"), std::string::npos);
}

// GET …/meta carries the whole tensor manifest: the wait reads it again only when an event
// says a patch to this version was built (and once when the stream opens, for a patch that
// finished before it did), never every 250 ms.
TEST_F(AdminCommandsTest, ModelPushWakesOnPatchEventsInsteadOfPolling) {
  const std::string meta = "GET /api/v1/models/m/versions/v2/meta";
  server_.On("POST /api/v1/models/m/versions/v2", 201, "{}");
  std::string pending = R"({"patches":[{"base_version":"v1","state":"pending"}]})";
  server_.On(meta, 200, pending);
  server_.On(meta, 200, pending);
  server_.On(meta, 200, R"({"size_bytes":2048,"patches":[{"base_version":"v1",
      "state":"ready","strategy":"tensor","size_bytes":512}]})");
  server_.events.push_back(
      {"id: 1\nevent: hello\ndata: {\"stream_id\":\"s1\"}\n\n", ": keepalive\n\n",
       "id: 2\nevent: patch.built\ndata: {\"model_id\":\"other\",\"target_version\":\"v2\"}\n\n",
       "id: 3\nevent: patch.built\ndata: {\"model_id\":\"m\",\"target_version\":\"v2\"}\n\n"});
  AdminArgs a = Args(AdminCommand::kModelPush);
  a.model = "m";
  a.version = "v2";
  ASSERT_OK(Run(a).status());
  EXPECT_EQ(server_.calls,
            (std::vector<std::string>{"POST /api/v1/models/m/versions/v2 <>", meta,
                                      "STREAM /api/v1/events?types=patch", meta, meta}));
  EXPECT_NE(Out().find("v1    ready  tensor    512 B  75.0%"), std::string::npos) << Out();
}

TEST_F(AdminCommandsTest, ModelPushPollsWithBackoffWithoutAnEventStream) {
  const std::string meta = "GET /api/v1/models/m/versions/v2/meta";
  server_.On("POST /api/v1/models/m/versions/v2", 201, "{}");
  server_.On(meta, 200, R"({"patches":[{"base_version":"v1","state":"pending"}]})");
  AdminArgs a = Args(AdminCommand::kModelPush);
  a.model = "m";
  a.version = "v2";
  a.wait_seconds = 20;
  auto start = clock_.Now();
  ASSERT_OK(Run(a).status());
  EXPECT_EQ(clock_.Now() - start, std::chrono::seconds(20));
  // After the upload's read: 0.5, 1.5, 3.5, 7.5, 12.5, 17.5 s and the deadline (20 s): 8 reads
  // in 20 s, where a 250 ms poll made 81.
  EXPECT_EQ(std::count(server_.calls.begin(), server_.calls.end(), meta), 8);
}

TEST_F(AdminCommandsTest, ModelPushWaitOnTheStreamIsBounded) {
  const std::string meta = "GET /api/v1/models/m/versions/v2/meta";
  server_.On("POST /api/v1/models/m/versions/v2", 201, "{}");
  server_.On(meta, 200, R"({"patches":[{"base_version":"v1","state":"pending"}]})");
  std::vector<std::string> keepalives(40, ": keepalive\n\n");  // 300 ms each: 12 s
  server_.events.push_back(keepalives);
  AdminArgs a = Args(AdminCommand::kModelPush);
  a.model = "m";
  a.version = "v2";
  a.wait_seconds = 3;
  auto start = clock_.Now();
  ASSERT_OK(Run(a).status());
  EXPECT_LE(clock_.Now() - start, std::chrono::milliseconds(3300));
  EXPECT_NE(Read(err_).find("still building"), std::string::npos);
  EXPECT_EQ(std::count(server_.calls.begin(), server_.calls.end(), meta), 1);
}

TEST_F(AdminCommandsTest, WatchPollsWithoutAnEventStreamUntilTheCampaignFails) {
  const std::string get = "GET /api/v1/campaigns/c-1";
  auto detail = [](const char* state, const char* dev_state, const char* error) {
    return Json{{"id", "c-1"},
                {"model_id", "m"},
                {"target_version", "v2"},
                {"state", state},
                {"summary", {{"total", 1}, {"complete", 0}, {"failures", error ? 1 : 0}}},
                {"devices", Json::array({{{"device_id", "d1"},
                                          {"state", dev_state},
                                          {"error", error ? Json(error) : Json(nullptr)}}})}}
        .dump();
  };
  server_.On(get, 200, detail("rolling_out", "pending", nullptr));
  server_.On(get, 200, detail("rolling_out", "pending", nullptr));
  server_.On(get, 200, detail("failed", "rolled_back", "health check exited 1"));
  auto start = clock_.Now();
  Result<int> r = Run(Args(AdminCommand::kCampaignWatch, "c-1"));
  ASSERT_OK(r.status());
  EXPECT_EQ(*r, kExitCampaignFailed);
  EXPECT_EQ(server_.calls[1], "STREAM /api/v1/events?campaign=c-1");
  EXPECT_EQ(
      std::count(server_.calls.begin(), server_.calls.end(), "STREAM /api/v1/events?campaign=c-1"),
      1);  // a 404 is not retried: polling from then on
  EXPECT_EQ(clock_.Now() - start, std::chrono::seconds(4));  // two 2 s polls
  EXPECT_EQ(Out(),
            "c-1  m v2  rolling_out  0/1 completed  0 failed\n"
            "  d1  pending\n"
            "c-1  m v2  failed  0/1 completed  1 failed\n"
            "  d1  rolled_back  health check exited 1\n");
}

std::string Detail(const char* state, int complete) {
  return Json{{"id", "c-1"},
              {"model_id", "m"},
              {"target_version", "v2"},
              {"state", state},
              {"summary", {{"total", 1}, {"complete", complete}, {"failures", 0}}},
              {"devices",
               Json::array({{{"device_id", "d1"}, {"state", complete ? "completed" : "pending"}}})}}
      .dump();
}

TEST_F(AdminCommandsTest, WatchRefetchesOnEventsAndResumesAfterADrop) {
  const std::string get = "GET /api/v1/campaigns/c-1";
  server_.On(get, 200, Detail("rolling_out", 0));
  server_.On(get, 200, Detail("rolling_out", 0));
  server_.On(get, 200, Detail("rolling_out", 0));
  server_.On(get, 200, Detail("completed", 1));
  server_.events.push_back({"id: 1\nevent: hello\ndata: {\"stream_id\":\"s9\"}\n\n",
                            "id: 2\nevent: campaign.device\ndata: {}\n\n"});
  server_.events.push_back({": keepalive\n", "id: 3\nevent: campaign.state\ndata: {}\n\n"});
  Result<int> r = Run(Args(AdminCommand::kCampaignWatch, "c-1"));
  ASSERT_OK(r.status());
  EXPECT_EQ(*r, 0);
  EXPECT_EQ(server_.calls, (std::vector<std::string>{
                               get, "STREAM /api/v1/events?campaign=c-1", get, get,
                               "STREAM /api/v1/events?campaign=c-1&stream_id=s9 last=2", get}));
}

TEST_F(AdminCommandsTest, WatchPollsWhenTheEventsAnswerIsNotAnEventStream) {
  const std::string get = "GET /api/v1/campaigns/c-1";
  server_.On(get, 200, Detail("rolling_out", 0));
  server_.On(get, 200, Detail("rolling_out", 0));
  server_.On(get, 200, Detail("completed", 1));
  server_.content_type = "text/html";  // e.g. a proxy's login page
  server_.events.push_back({"<html>"});
  server_.events.push_back({"<html>"});
  ASSERT_OK(Run(Args(AdminCommand::kCampaignWatch, "c-1")).status());
  EXPECT_EQ(std::count_if(server_.calls.begin(), server_.calls.end(),
                          [](const std::string& c) { return c.rfind("STREAM", 0) == 0; }),
            1);
}

TEST_F(AdminCommandsTest, WatchOnATerminalRedrawsInPlace) {
  server_.On("GET /api/v1/campaigns/c-1", 200, Detail("rolling_out", 0));
  server_.On("GET /api/v1/campaigns/c-1", 200, Detail("completed", 1));
  ASSERT_OK(Run(Args(AdminCommand::kCampaignWatch, "c-1"), /*tty=*/true).status());
  std::string out = Out();
  // Three lines drawn (summary, header, device), then moved up over and cleared once.
  const std::string redraw = "\x1b[3A\x1b[J";
  ASSERT_NE(out.find(redraw), std::string::npos);
  EXPECT_EQ(out.find(redraw) + redraw.size(), out.find("c-1  m v2  completed"));
  EXPECT_EQ(out.find(redraw), out.rfind(redraw));
  EXPECT_NE(out.find("d1      completed"), std::string::npos);
}

TEST_F(AdminCommandsTest, DeviceShowEscapesWhatTheDeviceSent) {
  server_.On(
      "GET /api/v1/devices/cam-1", 200,
      Json{{"id", "cam-1"},
           {"name", "cam\x1b]52;c;cm0gLXJm\x07"},
           {"fleets", Json::array({"lab\nx"})},
           {"tags", {{"site\x1b[8m", "ly\non"}}},
           {"inventory", {{"os", "linux\x1b[2J"}, {"attributes", {{"k", "v\r\xc2\x9b\x7f"}}}}},
           {"history", Json::array({{{"at", "2026-11-27T15:01:14Z"},
                                     {"outcome", "failed"},
                                     {"error", "health\nexit 1\x1b[1A"}}})}}
          .dump());
  ASSERT_OK(Run(Args(AdminCommand::kDeviceShow, "cam-1")).status());
  std::string out = Out();
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  EXPECT_NE(out.find("name:         cam\\x1b]52;c;cm0gLXJm\\x07\n"), std::string::npos) << out;
  EXPECT_NE(out.find("fleets:       lab\\nx\n"), std::string::npos) << out;
  EXPECT_NE(out.find("tags:         site\\x1b[8m=ly\\non\n"), std::string::npos) << out;
  EXPECT_NE(out.find("inventory:    linux\\x1b[2J\n"), std::string::npos) << out;
  EXPECT_NE(out.find("attributes:   k=v\\r\\u009b\\x7f\n"), std::string::npos) << out;
  EXPECT_NE(out.find("health\\nexit 1\\x1b[1A\n"), std::string::npos) << out;
}

TEST_F(AdminCommandsTest, JsonOutputStaysTheServersJson) {
  server_.On("GET /api/v1/devices/cam-1", 200, R"({"id":"cam-1","name":"a\u001bb\nc"})");
  AdminArgs a = Args(AdminCommand::kDeviceShow, "cam-1");
  a.flags.json = true;
  ASSERT_OK(Run(a).status());
  EXPECT_EQ(Out(), "{\n  \"id\": \"cam-1\",\n  \"name\": \"a\\u001bb\\nc\"\n}\n");
}

TEST_F(AdminCommandsTest, WatchOnATerminalKeepsItsLineCountWithHostileErrors) {
  auto detail = [](const char* state) {
    return Json{{"id", "c-1"},
                {"model_id", "m"},
                {"target_version", "v2"},
                {"state", state},
                {"summary", {{"total", 1}, {"complete", 0}, {"failures", 1}}},
                {"devices", Json::array({{{"device_id", "d1\x1b[1A"},
                                          {"state", "failed"},
                                          {"error", "exit 1\n\n\n\x1b]0;x\x07"}}})}}
        .dump();
  };
  server_.On("GET /api/v1/campaigns/c-1", 200, detail("rolling_out"));
  server_.On("GET /api/v1/campaigns/c-1", 200, detail("failed"));
  ASSERT_OK(Run(Args(AdminCommand::kCampaignWatch, "c-1"), /*tty=*/true).status());
  std::string out = Out();
  const std::string redraw = "\x1b[3A\x1b[J";  // summary, header, one device: still 3 lines
  ASSERT_NE(out.find(redraw), std::string::npos) << out;
  std::string rest = out;
  rest.erase(rest.find(redraw), redraw.size());
  EXPECT_EQ(rest.find('\x1b'), std::string::npos) << out;  // the redraw is the only escape
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 6);
  EXPECT_NE(out.find("exit 1\\n\\n\\n\\x1b]0;x\\x07"), std::string::npos) << out;
}

TEST_F(AdminCommandsTest, WatchLinesEscapeDeviceText) {
  server_.On(
      "GET /api/v1/campaigns/c-1", 200,
      Json{{"id", "c-1"},
           {"model_id", "m"},
           {"target_version", "v2"},
           {"state", "failed"},
           {"devices",
            Json::array({{{"device_id", "d1"}, {"state", "failed"}, {"error", "boom\n\x1b[2K"}}})}}
          .dump());
  ASSERT_OK(Run(Args(AdminCommand::kCampaignWatch, "c-1")).status());
  EXPECT_EQ(Out(),
            "c-1  m v2  failed  0/0 completed  0 failed\n"
            "  d1  failed  boom\\n\\x1b[2K\n");
}

TEST(ExitCodeForCampaignState, IsZeroOnlyForCompleted) {
  EXPECT_EQ(ExitCodeForCampaignState("completed"), 0);
  EXPECT_EQ(ExitCodeForCampaignState("completed_with_failures"), 10);
  EXPECT_EQ(ExitCodeForCampaignState("failed"), 11);
  EXPECT_EQ(ExitCodeForCampaignState("halted"), 12);
  EXPECT_EQ(ExitCodeForCampaignState("aborted"), 13);
  EXPECT_EQ(ExitCodeForCampaignState("rolling_out"), -1);
  EXPECT_EQ(ExitCodeForCampaignState("awaiting_approval"), -1);
}

}  // namespace
}  // namespace oxide::cli::admin
