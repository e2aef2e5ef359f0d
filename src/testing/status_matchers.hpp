#pragma once

#include <gtest/gtest.h>

#include "base/status.hpp"

// Asserts the exact error code (there is deliberately no "expect not ok").
#define EXPECT_STATUS(expr, expected_code)                                  \
  do {                                                                      \
    auto oxide_st_ = (expr);                                                \
    EXPECT_EQ(::oxide::ToString(oxide_st_.code()), ::oxide::ToString(expected_code)) \
        << oxide_st_.ToString();                                            \
  } while (0)
#define EXPECT_OK(expr)                                   \
  do {                                                    \
    auto oxide_st_ = (expr);                              \
    EXPECT_TRUE(oxide_st_.ok()) << oxide_st_.ToString();  \
  } while (0)
#define ASSERT_OK(expr)                                   \
  do {                                                    \
    auto oxide_st_ = (expr);                              \
    ASSERT_TRUE(oxide_st_.ok()) << oxide_st_.ToString();  \
  } while (0)
