#include "base/status.hpp"

#include <gtest/gtest.h>

#include "base/result.hpp"

namespace oxide {
namespace {

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(Status, WithContextPrefixesMessage) {
  Status s = Corrupt("bad byte").WithContext("tensor 'w1'");
  EXPECT_EQ(s.code(), ErrorCode::kCorrupt);
  EXPECT_EQ(s.message(), "tensor 'w1': bad byte");
}

TEST(Status, CodeNamesAreStable) {
  EXPECT_EQ(ToString(ErrorCode::kFailedPrecondition), "failed_precondition");
  EXPECT_EQ(ToString(ErrorCode::kUnavailable), "unavailable");
}

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  OXIDE_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(Result, AssignOrReturnPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), ErrorCode::kInvalidArgument);
}

TEST(Status, ErrnoMapsNotFound) {
  EXPECT_EQ(ErrnoError("open x", ENOENT).code(), ErrorCode::kNotFound);
  EXPECT_EQ(ErrnoError("write x", ENOSPC).code(), ErrorCode::kResourceExhausted);
}

}  // namespace
}  // namespace oxide
