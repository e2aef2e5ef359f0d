#include "server/api/range.hpp"

#include <gtest/gtest.h>

namespace oxide::server::api {
namespace {

TEST(Range, ParsesClosedOpenAndSuffixRanges) {
  ByteRange r;
  ASSERT_EQ(ParseRange("bytes=0-9", 100, &r), RangeKind::kSatisfiable);
  EXPECT_EQ(r.offset, 0u);
  EXPECT_EQ(r.length, 10u);
  ASSERT_EQ(ParseRange("bytes=90-", 100, &r), RangeKind::kSatisfiable);
  EXPECT_EQ(r.length, 10u);
  ASSERT_EQ(ParseRange("bytes=-5", 100, &r), RangeKind::kSatisfiable);
  EXPECT_EQ(r.offset, 95u);
  ASSERT_EQ(ParseRange("bytes=50-500", 100, &r), RangeKind::kSatisfiable);
  EXPECT_EQ(r.length, 50u);
  ASSERT_EQ(ParseRange("bytes=-500", 100, &r), RangeKind::kSatisfiable);
  EXPECT_EQ(r.offset, 0u);
}

TEST(Range, UnsatisfiableAndIgnoredForms) {
  ByteRange r;
  EXPECT_EQ(ParseRange("bytes=100-", 100, &r), RangeKind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=-0", 100, &r), RangeKind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=0-", 0, &r), RangeKind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=5-1", 100, &r), RangeKind::kNone);
  EXPECT_EQ(ParseRange("bytes=0-1,5-6", 100, &r), RangeKind::kNone);
  EXPECT_EQ(ParseRange("items=0-1", 100, &r), RangeKind::kNone);
  EXPECT_EQ(ParseRange("bytes=x-1", 100, &r), RangeKind::kNone);
  EXPECT_EQ(ParseRange("bytes=99999999999999999999-", 100, &r), RangeKind::kNone);
}

TEST(Range, EtagLists) {
  EXPECT_TRUE(EtagListMatches("\"a\"", "\"a\""));
  EXPECT_TRUE(EtagListMatches("\"x\", W/\"a\"", "\"a\""));
  EXPECT_TRUE(EtagListMatches("*", "\"a\""));
  EXPECT_FALSE(EtagListMatches("\"b\"", "\"a\""));
  EXPECT_FALSE(EtagListMatches("", "\"a\""));
}

}  // namespace
}  // namespace oxide::server::api
