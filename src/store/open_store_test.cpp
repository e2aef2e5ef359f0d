#include "store/open_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::store {
namespace {

TEST(OpenStore, DefaultIsSqliteInTheDataDir) {
  oxide::testing::TempDir dir;
  auto s = OpenStore("", dir.path());
  ASSERT_OK(s.status());
  EXPECT_TRUE(std::filesystem::exists(dir.File("oxide.db")));
  EXPECT_EQ(DescribeDatabase("", dir.path()), "sqlite " + dir.File("oxide.db"));
}

TEST(OpenStore, SqlitePrefixAndPlainPathsAreSqlite) {
  oxide::testing::TempDir dir;
  ASSERT_OK(OpenStore("sqlite:" + dir.File("a.db"), "/unused").status());
  EXPECT_TRUE(std::filesystem::exists(dir.File("a.db")));
  ASSERT_OK(OpenStore(dir.File("b.db"), "/unused").status());
  EXPECT_TRUE(std::filesystem::exists(dir.File("b.db")));
  EXPECT_FALSE(std::filesystem::exists("/unused/oxide.db"));
}

TEST(OpenStore, RefusesAnEmptySqlitePathAndOtherSchemes) {
  EXPECT_STATUS(OpenStore("sqlite:", "/tmp").status(), ErrorCode::kInvalidArgument);
  auto other = OpenStore("mysql://root:pw@db/oxide", "/tmp");
  EXPECT_STATUS(other.status(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(other.status().message().find(":pw@"), std::string::npos);
}

// Port 1 on loopback refuses at once: the error says why and never shows the password.
TEST(OpenStore, PostgresUrlsGoToPostgresAndHideThePassword) {
  for (const char* url : {"postgresql://oxide:hunter2@127.0.0.1:1/oxide",
                          "postgres://oxide:hunter2@127.0.0.1:1/oxide"}) {
    auto s = OpenStore(url, "/tmp");
    EXPECT_STATUS(s.status(), ErrorCode::kIo) << url;
    EXPECT_NE(s.status().message().find("postgresql"), std::string::npos);
    EXPECT_EQ(s.status().message().find("hunter2"), std::string::npos) << s.status().message();
  }
  EXPECT_EQ(DescribeDatabase("postgres://u:hunter2@h/db", "/d"),
            "postgresql postgres://u:***@h/db");
}

}  // namespace
}  // namespace oxide::store
