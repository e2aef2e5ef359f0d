// HttpMulti against a minimal keep-alive HTTP/1.1 server on 127.0.0.1:0.
#include "simulate/http_multi.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http_client/curl_transport.hpp"
#include "simulate/scripted_server_test.hpp"

namespace oxide::simulate {
namespace {

// Answers every request on every connection with `body` (200, Content-Length, X-Test: yes),
// keeping the connection open; counts the connections it accepted.
class KeepAliveServer : public testing::ScriptedServer {
 public:
  explicit KeepAliveServer(std::string body)
      : ScriptedServer([body = std::move(body)](const std::string&, const std::string&) {
          testing::Reply r;
          r.body = body;
          r.headers = "X-Test: yes\r\n";
          return r;
        }) {}
  std::string Url() const { return ScriptedServer::Url() + "/x"; }
};

// Polls until nothing is in flight (bounded: a hung transfer fails the test).
void Drain(HttpMulti& http) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (http.in_flight() > 0 && std::chrono::steady_clock::now() < deadline) http.Poll(50);
  ASSERT_EQ(http.in_flight(), 0u);
}

TEST(HttpMulti, ManyRequestsReuseFewConnections) {
  CurlGlobal curl;
  KeepAliveServer server("ok");
  auto http = HttpMulti::Create(4).value();
  int done = 0, ok = 0;
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 4; ++i) {
      HttpRequest r;
      r.post = i % 2 == 0;
      r.url = server.Url();
      r.body = "{\"n\":1}";
      http->Start(std::move(r), [&](HttpOutcome o) {
        ++done;
        ok += o.status == 200 && o.body == "ok" && o.error == TransportError::kNone;
      });
    }
    Drain(*http);
  }
  EXPECT_EQ(done, 40);  // each DoneFn exactly once
  EXPECT_EQ(ok, 40);
  EXPECT_LE(server.connections(), 4);  // keep-alive: reused, never more than the cap
}

TEST(HttpMulti, StreamsA2xxBodyThroughTheCallbacks) {
  CurlGlobal curl;
  KeepAliveServer server(std::string(100'000, 'z'));
  auto http = HttpMulti::Create(1).value();
  std::string streamed, header;
  HttpOutcome got;
  HttpRequest r;
  r.url = server.Url();
  http->Start(
      std::move(r), [&](HttpOutcome o) { got = std::move(o); },
      [&](int status, const HeaderMap& h) {
        header = h.count("x-test") ? h.at("x-test") : "";
        return status == 200;
      },
      [&](const char* d, size_t n) {
        streamed.append(d, n);
        return true;
      });
  Drain(*http);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(header, "yes");
  EXPECT_EQ(streamed.size(), 100'000u);
  EXPECT_TRUE(got.body.empty());  // streamed, not collected
  EXPECT_EQ(got.bytes_down, 100'000u);
}

TEST(HttpMulti, ABodyCallbackThatSaysStopAbortsTheTransfer) {
  CurlGlobal curl;
  KeepAliveServer server(std::string(100'000, 'z'));
  auto http = HttpMulti::Create(1).value();
  HttpOutcome got;
  HttpRequest r;
  r.url = server.Url();
  http->Start(
      std::move(r), [&](HttpOutcome o) { got = std::move(o); }, {},
      [](const char*, size_t) { return false; });
  Drain(*http);
  EXPECT_EQ(got.error, TransportError::kAborted);
}

TEST(HttpMulti, AClosedPortIsAConnectError) {
  CurlGlobal curl;
  int port = 0;
  {
    KeepAliveServer gone("");
    port = std::stoi(gone.Url().substr(17));
  }
  auto http = HttpMulti::Create(2).value();
  HttpOutcome got;
  HttpRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(port) + "/x";
  http->Start(std::move(r), [&](HttpOutcome o) { got = std::move(o); });
  Drain(*http);
  EXPECT_EQ(got.error, TransportError::kConnect);
  EXPECT_EQ(got.status, 0);
}

}  // namespace
}  // namespace oxide::simulate
