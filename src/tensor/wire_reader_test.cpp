#include "tensor/wire_reader.hpp"

#include <gtest/gtest.h>

#include "testing/onnx_builder.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::tensor::internal {
namespace {

using oxide::testing::ProtoWriter;

TEST(WireReaderTest, DecodesEveryWireType) {
  ProtoWriter w;
  w.Varint(1, 300).Fixed64(2, 0x1122334455667788ULL).Bytes(3, "abc").Fixed32(4, 0xdeadbeef);
  const std::string buf = w.str();
  WireReader r(buf, 0);
  WireField f;
  ASSERT_OK(r.Next(&f));
  EXPECT_EQ(f.number, 1u);
  EXPECT_EQ(f.type, WireType::kVarint);
  EXPECT_EQ(f.value, 300u);
  ASSERT_OK(r.Next(&f));
  EXPECT_EQ(f.type, WireType::kFixed64);
  EXPECT_EQ(f.value, 0x1122334455667788ULL);
  ASSERT_OK(r.Next(&f));
  EXPECT_EQ(f.type, WireType::kLengthDelimited);
  EXPECT_EQ(f.payload, "abc");
  EXPECT_EQ(f.payload.data(), buf.data() + buf.find("abc"));  // a view, not a copy
  ASSERT_OK(r.Next(&f));
  EXPECT_EQ(f.type, WireType::kFixed32);
  EXPECT_EQ(f.value, 0xdeadbeefu);
  EXPECT_TRUE(r.done());
}

TEST(WireReaderTest, RejectsMalformedFields) {
  struct Case {
    const char* what;
    std::string bytes;
  };
  const Case cases[] = {
      {"truncated tag", std::string("\x80", 1)},
      {"truncated varint value", std::string("\x08\x80", 2)},
      {"overlong varint", std::string("\x08") + std::string(10, '\xff') + "\x01"},
      {"varint overflowing 64 bits", std::string("\x08") + std::string(9, '\xff') + "\x02"},
      {"field number zero", std::string("\x00\x01", 2)},
      {"start group", std::string("\x0b", 1)},
      {"end group", std::string("\x0c", 1)},
      {"wire type 6", std::string("\x0e", 1)},
      {"length past end", std::string("\x0a\x05"
                                      "abc",
                                      5)},
      {"huge length", std::string("\x0a") + std::string(9, '\xff') + "\x01"},
      {"truncated fixed64", std::string("\x09"
                                        "1234567",
                                        8)},
      {"truncated fixed32", std::string("\x0d"
                                        "123",
                                        4)},
      {"field number past 29 bits", std::string("\xf8\xff\xff\xff\x7f\x00", 6)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    WireReader r(c.bytes, 0);
    WireField f;
    EXPECT_STATUS(r.Next(&f), ErrorCode::kCorrupt);
  }
}

TEST(WireReaderTest, ErrorNamesTheFileOffset) {
  const std::string bytes(
      "\x0a\x05"
      "abc",
      5);
  WireReader r(bytes, 1000);
  WireField f;
  Status s = r.Next(&f);
  EXPECT_NE(s.message().find("offset 1000"), std::string::npos) << s.ToString();
}

TEST(WireReaderTest, PackedVarints) {
  ProtoWriter w;
  w.PackedVarints(1, {1, 300, -1});
  WireReader outer(w.str(), 0);
  WireField f;
  ASSERT_OK(outer.Next(&f));
  WireReader packed(f.payload, 2);
  uint64_t v = 0;
  ASSERT_OK(packed.NextVarint(&v));
  EXPECT_EQ(v, 1u);
  ASSERT_OK(packed.NextVarint(&v));
  EXPECT_EQ(v, 300u);
  ASSERT_OK(packed.NextVarint(&v));
  EXPECT_EQ(static_cast<int64_t>(v), -1);
  EXPECT_TRUE(packed.done());
}

}  // namespace
}  // namespace oxide::tensor::internal
