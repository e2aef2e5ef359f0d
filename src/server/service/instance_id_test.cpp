// DefaultInstanceId: hostname:pid:<8 hex random>[:ns<inode>], different for two processes sharing a
// hostname and a pid (containers: pid 1 each).
#include "server/service/instance_id.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>

namespace oxide::server {
namespace {

TEST(DefaultInstanceId, IsHostPidAndARandomSuffix) {
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  const std::string id = DefaultInstanceId();
  const std::string prefix = std::string(host) + ":" + std::to_string(::getpid()) + ":";
  ASSERT_EQ(id.compare(0, prefix.size(), prefix), 0) << id;
  EXPECT_TRUE(std::regex_match(id.substr(prefix.size()), std::regex("[0-9a-f]{8}(:ns[0-9]+)?")))
      << id;
  // Same host, same pid (as two containers' pid 1): still two names.
  EXPECT_NE(DefaultInstanceId(), id);
}

}  // namespace
}  // namespace oxide::server
