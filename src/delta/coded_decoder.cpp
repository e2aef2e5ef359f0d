#include "delta/coded_decoder.hpp"

#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "base/coding.hpp"
#include "delta/scaled_transform.hpp"
#include "delta/transform.hpp"
#include "delta/zstd_stream.hpp"

namespace oxide::delta::internal {

using format::Chunk;

namespace {

constexpr size_t kMaxVarintBytes = 10;

// Window log allowed for a ZSTD chunk: the format's 2^23, or less when the caller's limit is
// smaller (zstd's own minimum is 2^10).
int ChunkWindowLogMax(uint64_t max_window_bytes) {
  int log = format::kChunkWindowLog;
  while (log > 10 && (uint64_t{1} << log) > max_window_bytes) --log;
  return log;
}

}  // namespace

Status CheckZstdFrameStart(const uint8_t* p) {
  if (DecodeFixed32(p) != ZSTD_MAGICNUMBER) {
    return Corrupt("compressed body is not a zstd frame (bad frame magic)");
  }
  constexpr uint8_t kContentChecksumFlag = 0x04;  // RFC 8878 frame header descriptor, bit 2
  if ((p[4] & kContentChecksumFlag) == 0) {
    return Corrupt("compressed body has no content checksum");
  }
  return Status::Ok();
}

CodedBodyDecoder::CodedBodyDecoder(const BaseSource* base, uint64_t target_size, TargetWriter* out,
                                   uint64_t max_window_bytes)
    : base_(base),
      target_size_(target_size),
      out_(out),
      max_window_bytes_(max_window_bytes),
      records_(base, target_size, out, /*fragments=*/true) {}

CodedBodyDecoder::~CodedBodyDecoder() { ZSTD_freeDCtx(dctx_); }

Status CodedBodyDecoder::Consume(const uint8_t* data, size_t n) {
  size_t pos = 0;
  while (pos < n) {
    switch (phase_) {
      case Phase::kDone:
        return Corrupt("patch body continues after its END chunk");
      case Phase::kTag: {
        const uint8_t tag = data[pos++];
        hdr_len_ = 0;
        if (tag == static_cast<uint8_t>(Chunk::kEnd)) {
          if (records_.produced() != target_size_) {
            return Corrupt("patch ends after " + std::to_string(records_.produced()) + " of " +
                           std::to_string(target_size_) + " target bytes");
          }
          phase_ = Phase::kDone;
        } else if (tag == static_cast<uint8_t>(Chunk::kZstd)) {
          phase_ = Phase::kZstdLength;
        } else if (tag == static_cast<uint8_t>(Chunk::kCoded)) {
          phase_ = Phase::kCodedHeader;
        } else {
          return Unsupported("unknown chunk tag " + std::to_string(tag));
        }
        break;
      }
      case Phase::kZstdLength:
      case Phase::kBlockLength: {
        const uint8_t byte = data[pos++];
        hdr_[hdr_len_++] = byte;
        if ((byte & 0x80) != 0) {
          if (hdr_len_ == kMaxVarintBytes) return Corrupt("chunk length varint is too long");
          break;
        }
        const uint8_t* q = hdr_;
        uint64_t v = 0;
        if (!GetVarint64(&q, hdr_ + hdr_len_, &v)) return Corrupt("chunk length varint overflows");
        hdr_len_ = 0;
        if (phase_ == Phase::kZstdLength) {
          if (v == 0 || v > format::kMaxRecordLength) {
            return Corrupt("zstd chunk length " + std::to_string(v) + " is out of range");
          }
          chunk_left_ = v;
          OXIDE_RETURN_IF_ERROR(StartZstdChunk());
        } else {
          if (v > format::kMaxCodedPayload) {
            return Corrupt("coded block payload of " + std::to_string(v) +
                           " bytes exceeds the format's bound");
          }
          payload_len_ = static_cast<size_t>(v);
          payload_fill_ = 0;
          phase_ = Phase::kBlockPayload;
          if (payload_len_ == 0) OXIDE_RETURN_IF_ERROR(DecodeBlock());
        }
        break;
      }
      case Phase::kZstdData: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(n - pos, chunk_left_));
        OXIDE_RETURN_IF_ERROR(ZstdData(data + pos, take));
        pos += take;
        chunk_left_ -= take;
        if (chunk_left_ == 0) OXIDE_RETURN_IF_ERROR(EndZstdChunk());
        break;
      }
      case Phase::kCodedHeader: {
        hdr_[hdr_len_++] = data[pos++];
        OXIDE_RETURN_IF_ERROR(ParseCodedHeader());
        if (phase_ == Phase::kCodedHeader && hdr_len_ == sizeof(hdr_)) {
          return Corrupt("coded chunk header is malformed");
        }
        break;
      }
      case Phase::kBlockPayload: {
        size_t take = std::min(n - pos, payload_len_ - payload_fill_);
        std::memcpy(payload_.data() + payload_fill_, data + pos, take);
        payload_fill_ += take;
        pos += take;
        if (payload_fill_ == payload_len_) OXIDE_RETURN_IF_ERROR(DecodeBlock());
        break;
      }
    }
  }
  return Status::Ok();
}

Status CodedBodyDecoder::Finish() const {
  if (phase_ == Phase::kDone) return Status::Ok();
  if (phase_ == Phase::kTag) return Corrupt("patch body has no END chunk");
  return Corrupt("patch body is truncated inside a chunk");
}

Status CodedBodyDecoder::StartZstdChunk() {
  if (dctx_ == nullptr) {
    dctx_ = ZSTD_createDCtx();
    if (dctx_ == nullptr) return ResourceExhausted("cannot allocate a zstd decoder");
    ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, ChunkWindowLogMax(max_window_bytes_));
    zout_.resize(ZSTD_DStreamOutSize());
  } else {
    ZSTD_DCtx_reset(dctx_, ZSTD_reset_session_only);
  }
  frame_start_len_ = 0;
  frame_done_ = false;
  phase_ = Phase::kZstdData;
  return Status::Ok();
}

Status CodedBodyDecoder::ZstdData(const uint8_t* data, size_t n) {
  if (frame_start_len_ < kZstdFrameStartBytes) {
    // Held back until checked, so zstd's own error for a bad frame never comes first.
    size_t take = std::min(n, kZstdFrameStartBytes - frame_start_len_);
    std::memcpy(frame_start_ + frame_start_len_, data, take);
    frame_start_len_ += take;
    data += take;
    n -= take;
    if (frame_start_len_ < kZstdFrameStartBytes) return Status::Ok();
    OXIDE_RETURN_IF_ERROR(CheckZstdFrameStart(frame_start_));
    OXIDE_RETURN_IF_ERROR(Decompress(frame_start_, kZstdFrameStartBytes));
  }
  return Decompress(data, n);
}

Status CodedBodyDecoder::Decompress(const uint8_t* data, size_t n) {
  return DecompressFrame(
      dctx_, data, n, &zout_, &frame_done_, "zstd chunk has bytes after its frame",
      [&](const uint8_t* out, size_t len) { return records_.Consume(out, len); },
      [&](size_t rc) {
        if (ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge) {
          if (max_window_bytes_ < (uint64_t{1} << format::kChunkWindowLog)) {
            return ResourceExhausted("patch needs a larger decoder window than allowed");
          }
          return Corrupt("zstd chunk declares a window over 2^23 bytes");
        }
        return Corrupt(std::string("zstd chunk: ") + ZSTD_getErrorName(rc));
      });
}

Status CodedBodyDecoder::EndZstdChunk() {
  if (frame_start_len_ < kZstdFrameStartBytes) return Corrupt("zstd chunk is too short");
  if (!frame_done_) return Corrupt("zstd chunk ends inside its frame");
  if (!records_.at_record_boundary()) return Corrupt("zstd chunk ends inside a record");
  phase_ = Phase::kTag;
  return Status::Ok();
}

Status CodedBodyDecoder::ParseCodedHeader() {
  const uint8_t* p = hdr_;
  const uint8_t* end = hdr_ + hdr_len_;
  uint64_t offset = 0, length = 0;
  // Returns OK without consuming while bytes are missing; a malformed varint shows only once
  // the buffer is full (the caller's check).
  if (!GetVarint64(&p, end, &offset) || !GetVarint64(&p, end, &length)) return Status::Ok();
  if (end - p < 3) return Status::Ok();
  const uint8_t transform = p[0], kind = p[1], width = p[2];
  const bool scaled = transform == format::kScaledSubOrd;
  if (transform > format::kMaxTransform && !scaled) {
    return Unsupported("unknown transform " + std::to_string(transform) + " in a coded chunk");
  }
  if (kind > codec::kMaxElementKind) {
    return Unsupported("unknown element kind " + std::to_string(kind));
  }
  info_.kind = static_cast<codec::ElementKind>(kind);
  info_.width = width;
  info_.transform = transform;
  if (scaled && (info_.kind != codec::ElementKind::kFp32 || width != 4)) {
    return Unsupported("the scaled transform is defined for fp32 only");
  }
  if (!codec::IsValidBlockInfo(info_) ||
      (transform != 0 && !scaled && !IsValidTransform(transform, width))) {
    return Unsupported("element kind " + std::to_string(kind) + " with width " +
                       std::to_string(width) + " is not supported");
  }
  if (transform == 0 && offset != 0) return Corrupt("literal coded chunk names a base offset");
  if (transform != 0 && (offset > base_->size() || length > base_->size() - offset)) {
    return Corrupt("coded chunk reads past the end of the base");
  }
  if (length > format::kMaxRecordLength || length > target_size_ - records_.produced()) {
    return Corrupt("coded chunk is longer than the rest of the target");
  }
  base_offset_ = offset;
  remaining_ = length;
  chunk_produced_ = 0;
  hdr_len_ = 0;
  return StartBlock();
}

Status CodedBodyDecoder::StartBlock() {
  if (remaining_ == 0) {
    phase_ = Phase::kTag;
    return Status::Ok();
  }
  if (payload_.empty()) {
    payload_.resize(format::kMaxCodedPayload);
    residual_.resize(format::kBlockBytes);
  }
  if (info_.transform != 0 && base_buf_.empty()) base_buf_.resize(format::kBlockBytes);
  hdr_len_ = 0;
  phase_ = Phase::kBlockLength;
  return Status::Ok();
}

Status CodedBodyDecoder::DecodeBlock() {
  const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, format::kBlockBytes));
  const uint8_t* base = nullptr;
  if (info_.transform != 0) {
    OXIDE_RETURN_IF_ERROR(base_->ReadAt(base_offset_, base_buf_.data(), n));
    base = base_buf_.data();
  }
  const uint8_t* payload = payload_.data();
  const uint8_t* payload_end = payload + payload_len_;
  const bool scaled = info_.transform == format::kScaledSubOrd;
  if (scaled) {
    // The block's row scales come first (delta/scaled_transform.hpp).
    OXIDE_RETURN_IF_ERROR(
        ParseScalePrefix(&payload, payload_end, chunk_produced_ / 4, n, &row_scales_));
  }
  Status st = codec::DecodeResidualBlock(info_, payload, static_cast<size_t>(payload_end - payload),
                                         base, residual_.data(), n, &coder_);
  if (!st.ok()) return st.WithContext("coded block");
  const uint8_t* target = residual_.data();
  if (info_.transform != 0) {
    // The payload is consumed: its buffer (at least kBlockBytes) takes the target block.
    if (scaled) {
      ScaledInverse(row_scales_, chunk_produced_ / 4, residual_.data(), base, payload_.data(), n);
    } else {
      InverseTransform(static_cast<format::Transform>(info_.transform), info_.width,
                       residual_.data(), base, payload_.data(), n);
    }
    target = payload_.data();
    base_offset_ += n;
  }
  chunk_produced_ += n;
  OXIDE_RETURN_IF_ERROR(out_->Emit(target, n));
  records_.AddProduced(n);
  remaining_ -= n;
  return StartBlock();
}

}  // namespace oxide::delta::internal
