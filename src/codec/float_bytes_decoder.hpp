#pragma once

// Decoder of mode 4 (kFloatBytes), the literal-float model with the raw bits in planes
// (float_model.hpp; the encoder is EncodeFloatModel with FloatRaw::kBytes). The payload after
// the mode byte is mode 3's (flags, reference exponent, tail bytes, rANS tables, stream) followed
// by the raw section: planes of the m = n / width raw values (the mantissa with the sign above
// it), each in element order, bit planes LSB-first with zero padding, values little-endian:
//   bf16: bytes (sign, mantissa 6-0);
//   fp16: bit planes of mantissa bit 8, mantissa bit 9 and the sign, then bytes (mantissa 7-0);
//   fp32: 16-bit values (mantissa 15-0), then bytes (sign, mantissa 22-16).
// The raw section must end exactly at the end of the payload (docs/format/patch-v3.md 2.1).
//
// Decoding runs in chunks: the exponents of a chunk of each of the four lanes are rANS-decoded
// into a small buffer (one packed table load per symbol), then merged with the planes, eight
// elements at a time.

#include <cstddef>
#include <cstdint>

#include "base/status.hpp"
#include "codec/residual_coder.hpp"

namespace oxide::codec::internal {

struct Scratch;

// Decodes exactly n bytes into data from the mode 4 payload [p, end) (after the mode byte).
// kCorrupt when the payload is malformed, short or long; never reads outside [p, end) or writes
// outside [data, data + n). REQUIRES: FloatModelSupports(info.kind), IsValidBlockInfo(info).
Status DecodeFloatBytes(const BlockInfo& info, const uint8_t* p, const uint8_t* end, uint8_t* data,
                        size_t n, Scratch* sc);

}  // namespace oxide::codec::internal
