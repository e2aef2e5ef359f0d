#pragma once

// Decoder of mode 4 (kFloatBytes), the literal-float model with byte-aligned raw bits
// (float_model.hpp; the encoder is EncodeFloatModel with FloatRaw::kBytes). The payload after
// the mode byte is mode 3's (flags, reference exponent, tail bytes, rANS tables, stream) followed
// by the raw section: for the m = n / width elements in element order, first the bits of each
// raw value above its whole bytes, packed LSB-first (fp16 only: 3 bits, sign above the top two
// mantissa bits; zero padding to a byte), then the whole bytes of each raw value, little-endian
// (bf16: 1, sign above the 7 mantissa bits; fp16: 1, the low mantissa byte; fp32: 3, sign above
// the 23 mantissa bits). The raw section must end exactly at the end of the payload.
//
// Decoding runs in chunks: the exponents of a chunk of each of the four lanes are rANS-decoded
// into a small buffer (one packed table load per symbol), then merged with the raw bytes.

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
