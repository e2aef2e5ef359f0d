#pragma once

#include <gtest/gtest.h>

#include "base/status.hpp"

namespace oxide::testing {

inline ::testing::AssertionResult StatusHasCode(const char* expr, const char*, const Status& s,
                                                ErrorCode code) {
  if (s.code() == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << expr << ": expected " << ToString(code) << ", got " << s.ToString();
}

}  // namespace oxide::testing

// Asserts the exact error code (there is deliberately no "expect not ok"). Accepts `<<` context.
#define EXPECT_STATUS(expr, expected_code) \
  EXPECT_PRED_FORMAT2(::oxide::testing::StatusHasCode, (expr), (expected_code))
#define ASSERT_STATUS(expr, expected_code) \
  ASSERT_PRED_FORMAT2(::oxide::testing::StatusHasCode, (expr), (expected_code))
#define EXPECT_OK(expr) EXPECT_STATUS((expr), ::oxide::ErrorCode::kOk)
#define ASSERT_OK(expr) ASSERT_STATUS((expr), ::oxide::ErrorCode::kOk)
