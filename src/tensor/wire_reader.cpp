#include "tensor/wire_reader.hpp"

#include <string>

#include "base/coding.hpp"

namespace oxide::tensor::internal {
namespace {

// Protobuf field numbers are 29 bits; larger tags cannot come from a real encoder.
constexpr uint64_t kMaxFieldNumber = (uint64_t{1} << 29) - 1;

const uint8_t* Bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

}  // namespace

Status WireReader::Fail(std::string_view what) const {
  return Corrupt(std::string(what) + " at offset " + std::to_string(base_ + start_));
}

Status WireReader::ReadVarint(uint64_t* v, std::string_view what) {
  const uint8_t* begin = Bytes(buf_) + pos_;
  const uint8_t* p = begin;
  const uint8_t* end = Bytes(buf_) + buf_.size();
  if (!GetVarint64(&p, end, v)) {
    // Ten bytes consumed means the encoding itself is bad; fewer means the input ran out.
    const bool overlong = p - begin >= 10;
    return Fail((overlong ? "overlong " : "truncated ") + std::string(what));
  }
  pos_ += static_cast<size_t>(p - begin);
  return Status::Ok();
}

Status WireReader::Next(WireField* field) {
  start_ = pos_;
  uint64_t tag = 0;
  OXIDE_RETURN_IF_ERROR(ReadVarint(&tag, "field tag"));
  const uint64_t number = tag >> 3;
  if (number == 0 || number > kMaxFieldNumber) return Fail("invalid field number");
  field->number = static_cast<uint32_t>(number);
  field->type = static_cast<WireType>(tag & 7);
  field->value = 0;
  field->payload = {};
  const size_t remaining = buf_.size() - pos_;
  switch (field->type) {
    case WireType::kVarint:
      return ReadVarint(&field->value, "varint");
    case WireType::kFixed64:
      if (remaining < 8) return Fail("truncated fixed64");
      field->value = DecodeFixed64(Bytes(buf_) + pos_);
      pos_ += 8;
      return Status::Ok();
    case WireType::kFixed32:
      if (remaining < 4) return Fail("truncated fixed32");
      field->value = DecodeFixed32(Bytes(buf_) + pos_);
      pos_ += 4;
      return Status::Ok();
    case WireType::kLengthDelimited: {
      uint64_t len = 0;
      OXIDE_RETURN_IF_ERROR(ReadVarint(&len, "length"));
      // Checked against what is left before the length is used for anything.
      if (len > buf_.size() - pos_) {
        return Fail("field " + std::to_string(number) + " length " + std::to_string(len) +
                    " past end");
      }
      field->payload = buf_.substr(pos_, static_cast<size_t>(len));
      pos_ += static_cast<size_t>(len);
      return Status::Ok();
    }
    case WireType::kStartGroup:
    case WireType::kEndGroup:
      return Fail("protobuf groups are not supported");
  }
  return Fail("invalid wire type " + std::to_string(tag & 7));
}

}  // namespace oxide::tensor::internal
