#pragma once

#include <cstdint>
#include <string_view>

#include "base/status.hpp"

namespace oxide::tensor::internal {

// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/). Groups (3, 4) are
// deprecated and never used by ONNX, so the reader rejects them instead of matching group ends.
enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// One decoded field. `value` holds the varint or fixed value; `payload` is a view into the
// reader's buffer (length-delimited fields only), so its position in the file is known.
struct WireField {
  uint32_t number = 0;
  WireType type = WireType::kVarint;
  uint64_t value = 0;
  std::string_view payload;
};

// Walks the fields of one protobuf message held in `buf`, without allocating. Every varint,
// fixed value and length is checked against the bytes that remain before it is used, so any
// input (truncated, hostile) yields either fields or kCorrupt. `base_offset` is the file offset
// of buf[0]; it only makes error messages point at the right byte.
class WireReader {
 public:
  WireReader(std::string_view buf, uint64_t base_offset) : buf_(buf), base_(base_offset) {}

  bool done() const { return pos_ >= buf_.size(); }
  // Decodes the next field. REQUIRES: !done(). kCorrupt on truncation, a varint longer than
  // 10 bytes or overflowing 64 bits, a length past the end, field number 0 or a group.
  Status Next(WireField* field);
  // Decodes one bare varint (for walking packed repeated varint payloads). REQUIRES: !done().
  Status NextVarint(uint64_t* v) {
    start_ = pos_;
    return ReadVarint(v, "packed varint");
  }

 private:
  Status ReadVarint(uint64_t* v, std::string_view what);
  Status Fail(std::string_view what) const;

  std::string_view buf_;
  uint64_t base_;
  size_t pos_ = 0;
  size_t start_ = 0;  // where the current field began: errors point there
};

}  // namespace oxide::tensor::internal
