#include "crypto/base64.hpp"

#include <gtest/gtest.h>

#include "testing/status_matchers.hpp"

namespace oxide::crypto {
namespace {

TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_OK(d.status());
    EXPECT_EQ(*d, s);
  }
}

TEST(Base64, AllByteValuesRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  auto d = Base64Decode(Base64Encode(all));
  ASSERT_OK(d.status());
  EXPECT_EQ(*d, all);
}

TEST(Base64, RefusesMalformed) {
  for (std::string_view bad : {"Zg=", "Zg", "Z===", "Zg==Zg==", "Zm9v\n", "Zm 9",
                               "Zh==", "Zm9=", "Zm-v", "Zm_v", "=Zm9"}) {
    EXPECT_STATUS(Base64Decode(bad).status(), ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(Base64, ExactLength) {
  EXPECT_OK(Base64DecodeExact("Zm9v", 3, "x").status());
  EXPECT_STATUS(Base64DecodeExact("Zm9v", 4, "x").status(), ErrorCode::kInvalidArgument);
}

TEST(Base64, UrlEncodingIsUnpaddedWithTheUrlAlphabet) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64UrlEncode(std::string(32, '\xff')).size(), 43u);
}

}  // namespace
}  // namespace oxide::crypto
