// The agent's control-plane URL policy: https always, plain http only to loopback or when told.
#include "agent/control_plane_url.hpp"

#include <gtest/gtest.h>

#include "testing/status_matchers.hpp"

namespace oxide::agent {
namespace {

TEST(UrlHost, StripsSchemeUserPortPathAndBrackets) {
  EXPECT_EQ(UrlHost("http://Example.COM:8080/x"), "example.com");
  EXPECT_EQ(UrlHost("https://user:pw@10.0.0.1/api"), "10.0.0.1");
  EXPECT_EQ(UrlHost("http://[::1]:8080"), "::1");
  EXPECT_EQ(UrlHost("http://host?q"), "host");
  EXPECT_EQ(UrlHost("no-scheme"), "");
}

TEST(IsLoopbackHost, KnowsLocalhost127And6Loopback) {
  for (const char* h : {"localhost", "127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.5"}) {
    EXPECT_TRUE(IsLoopbackHost(h)) << h;
  }
  for (const char* h :
       {"128.0.0.1", "10.0.0.1", "localhost.evil.com", "127.0.0.1.nip.io", "::2", "0.0.0.0", ""}) {
    EXPECT_FALSE(IsLoopbackHost(h)) << h;
  }
}

TEST(CheckControlPlaneUrl, RefusesPlainHttpToAnotherHostWithoutTheFlag) {
  Status st = CheckControlPlaneUrl("http://10.0.0.5:8080", false);
  EXPECT_STATUS(st, ErrorCode::kInvalidArgument);
  EXPECT_NE(st.message().find("--allow-http"), std::string::npos);
  EXPECT_STATUS(CheckControlPlaneUrl("HTTP://updates.example.com", false),
                ErrorCode::kInvalidArgument);
}

TEST(CheckControlPlaneUrl, AcceptsHttpsLoopbackHttpAndHttpWhenAllowed) {
  EXPECT_OK(CheckControlPlaneUrl("https://updates.example.com", false));
  EXPECT_OK(CheckControlPlaneUrl("http://127.0.0.1:8080", false));
  EXPECT_OK(CheckControlPlaneUrl("http://localhost:8080/", false));
  EXPECT_OK(CheckControlPlaneUrl("http://[::1]:8080", false));
  EXPECT_OK(CheckControlPlaneUrl("http://10.0.0.5:8080", true));
}

TEST(CheckControlPlaneUrl, RefusesOtherSchemesAndMissingHosts) {
  EXPECT_STATUS(CheckControlPlaneUrl("ftp://h/x", true), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(CheckControlPlaneUrl("10.0.0.5:8080", true), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(CheckControlPlaneUrl("https:///x", false), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace oxide::agent
