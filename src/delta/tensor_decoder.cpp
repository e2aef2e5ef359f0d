#include "delta/tensor_decoder.hpp"

#include <algorithm>

#include "base/coding.hpp"
#include "delta/transform.hpp"

namespace oxide::delta::internal {

using format::Op;

TensorDecoder::TensorDecoder(const BaseSource* base, uint64_t target_size, TargetWriter* out,
                             bool fragments)
    : base_(base), target_size_(target_size), out_(out), fragments_(fragments) {}

Status TensorDecoder::Consume(const uint8_t* data, size_t n) {
  size_t pos = 0;
  while (pos < n) {
    switch (phase_) {
      case Phase::kDone:
        return Corrupt("instruction stream continues after its END record");
      case Phase::kHeader: {
        if (hdr_len_ == sizeof(hdr_)) return Corrupt("record header too long");
        hdr_[hdr_len_++] = data[pos++];
        OXIDE_RETURN_IF_ERROR(ParseHeader());
        break;
      }
      case Phase::kData: {
        size_t take = std::min(n - pos, block_len_ - block_fill_);
        std::copy(data + pos, data + pos + take, block_.data() + block_fill_);
        block_fill_ += take;
        pos += take;
        if (block_fill_ == block_len_) OXIDE_RETURN_IF_ERROR(FlushBlock());
        break;
      }
    }
  }
  return Status::Ok();
}

Status TensorDecoder::ParseHeader() {
  const uint8_t* p = hdr_ + 1;
  const uint8_t* end = hdr_ + hdr_len_;
  uint8_t tag = hdr_[0];
  if (tag > static_cast<uint8_t>(Op::kLiteral)) {
    return Unsupported("unknown record type " + std::to_string(tag));
  }
  Op op = static_cast<Op>(tag);
  uint64_t a = 0, b = 0;
  // Each branch returns OK without consuming the record while bytes are missing; a varint that
  // is malformed (not merely short) can only be detected once the buffer is full.
  auto need_varint = [&](uint64_t* v) -> int {
    const uint8_t* q = p;
    if (!GetVarint64(&q, end, v)) return 0;
    p = q;
    return 1;
  };
  switch (op) {
    case Op::kEnd:
      if (fragments_) return Corrupt("END record inside a zstd chunk");
      if (produced_ != target_size_) {
        return Corrupt("patch ends after " + std::to_string(produced_) + " of " +
                       std::to_string(target_size_) + " target bytes");
      }
      phase_ = Phase::kDone;
      return Status::Ok();
    case Op::kCopy:
      if (!need_varint(&a) || !need_varint(&b)) return Status::Ok();
      hdr_len_ = 0;
      return Copy(a, b);
    case Op::kDelta:
      if (!need_varint(&a) || !need_varint(&b)) return Status::Ok();
      if (end - p < 2) return Status::Ok();
      if (!IsValidWidthByte(p[1]) || !IsValidTransform(p[0], p[1] & 0x0f)) {
        return Unsupported("unknown transform " + std::to_string(p[0]) + " / width " +
                           std::to_string(p[1]));
      }
      if (a > base_->size() || b > base_->size() - a) {
        return Corrupt("delta record reads past the end of the base");
      }
      op_ = op;
      base_offset_ = a;
      remaining_ = b;
      transform_ = static_cast<format::Transform>(p[0]);
      width_ = p[1];
      hdr_len_ = 0;
      return StartRecord();
    case Op::kLiteral:
      if (!need_varint(&b)) return Status::Ok();
      if (end - p < 1) return Status::Ok();
      if (!IsValidWidthByte(p[0])) return Unsupported("bad literal width");
      op_ = op;
      remaining_ = b;
      width_ = p[0];
      hdr_len_ = 0;
      return StartRecord();
  }
  return Internal("unreachable");
}

Status TensorDecoder::StartRecord() {
  if (remaining_ > format::kMaxRecordLength || remaining_ > target_size_ - produced_) {
    return Corrupt("record is longer than the rest of the target");
  }
  if (remaining_ == 0) {
    phase_ = Phase::kHeader;
    return Status::Ok();
  }
  block_len_ = static_cast<size_t>(std::min<uint64_t>(remaining_, format::kBlockBytes));
  block_fill_ = 0;
  if (block_.size() < block_len_) block_.resize(block_len_);
  phase_ = Phase::kData;
  return Status::Ok();
}

Status TensorDecoder::FlushBlock() {
  size_t n = block_len_;
  if (scratch_.size() < n) scratch_.resize(n);
  UngroupLayout(block_.data(), scratch_.data(), n, width_);
  if (op_ == Op::kDelta) {
    if (base_buf_.size() < n) base_buf_.resize(n);
    OXIDE_RETURN_IF_ERROR(base_->ReadAt(base_offset_, base_buf_.data(), n));
    // Inverse into block_ (free now) so scratch_ stays the residual input.
    InverseTransform(transform_, width_ & 0x0f, scratch_.data(), base_buf_.data(), block_.data(),
                     n);
    OXIDE_RETURN_IF_ERROR(out_->Emit(block_.data(), n));
    base_offset_ += n;
  } else {
    OXIDE_RETURN_IF_ERROR(out_->Emit(scratch_.data(), n));
  }
  produced_ += n;
  remaining_ -= n;
  if (remaining_ == 0) {
    phase_ = Phase::kHeader;
    return Status::Ok();
  }
  block_len_ = static_cast<size_t>(std::min<uint64_t>(remaining_, format::kBlockBytes));
  block_fill_ = 0;
  return Status::Ok();
}

Status TensorDecoder::Copy(uint64_t base_offset, uint64_t length) {
  if (base_offset > base_->size() || length > base_->size() - base_offset) {
    return Corrupt("copy record reads past the end of the base");
  }
  if (length > target_size_ - produced_) {
    return Corrupt("copy record is longer than the rest of the target");
  }
  if (base_buf_.size() < std::min<uint64_t>(length, format::kBlockBytes)) {
    base_buf_.resize(static_cast<size_t>(std::min<uint64_t>(length, format::kBlockBytes)));
  }
  while (length > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(length, format::kBlockBytes));
    OXIDE_RETURN_IF_ERROR(base_->ReadAt(base_offset, base_buf_.data(), n));
    OXIDE_RETURN_IF_ERROR(out_->Emit(base_buf_.data(), n));
    base_offset += n;
    length -= n;
    produced_ += n;
  }
  return Status::Ok();
}

}  // namespace oxide::delta::internal
