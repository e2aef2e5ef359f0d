#include "protocol/patch_versions.hpp"

#include <gtest/gtest.h>

#include "testing/status_matchers.hpp"

namespace oxide::protocol {
namespace {

TEST(PatchVersionsTest, AbsentHeaderMeansVersionTwoOnlyAndUndeclared) {
  auto v = ParsePatchVersions("");
  ASSERT_OK(v.status());
  EXPECT_FALSE(v->declared);
  EXPECT_TRUE(v->Accepts(2));
  EXPECT_FALSE(v->Accepts(3));
  EXPECT_EQ(v->accepted.count(), 1u);
}

TEST(PatchVersionsTest, ListsWithBlanks) {
  auto v = ParsePatchVersions(" 2 ,\t3");
  ASSERT_OK(v.status());
  EXPECT_TRUE(v->declared);
  EXPECT_TRUE(v->Accepts(2));
  EXPECT_TRUE(v->Accepts(3));
  EXPECT_FALSE(v->Accepts(1));
  auto only3 = ParsePatchVersions("3");
  ASSERT_OK(only3.status());
  EXPECT_FALSE(only3->Accepts(2));
  EXPECT_TRUE(ParsePatchVersions(kAgentPatchVersions)->Accepts(3));
  EXPECT_TRUE(ParsePatchVersions("255")->Accepts(255));
}

TEST(PatchVersionsTest, MalformedIsCorrupt) {
  for (std::string_view bad :
       {",", "2,", ",2", "2;3", "x", "0", "256", "0002", "2 3", "-2", " ", "2,,3",
        "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"}) {
    EXPECT_STATUS(ParsePatchVersions(bad).status(), ErrorCode::kCorrupt) << bad;
  }
}

}  // namespace
}  // namespace oxide::protocol
