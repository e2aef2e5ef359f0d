#pragma once

// Mode 3 of a block: literal floats (transform 0, no base; fp16, bf16 and fp32). The exponent
// field of each element is one rANS symbol, coded under the bucketed exponent of the element four
// places back (the same rANS lane, so the four lanes decode as independent chains; weights of one
// tensor share a scale, and neighbours, e.g. a row, even more so); sign and mantissa are close to
// uniform and are written raw. This is the exponent-aligned layout of ZipNN without a byte
// rotation: the coder pulls the exponent out of each element directly.
//
// Payload (after the mode byte): flags u8 (bit 0: neighbour context), reference exponent u8, the
// n % width tail bytes verbatim, the rANS tables, varint length of the rANS stream, the stream,
// then the raw sign+mantissa bits to the end.

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.hpp"
#include "codec/residual_coder.hpp"

namespace oxide::codec::internal {

// True for the kinds mode 3 codes (fp16, bf16, fp32).
bool FloatModelSupports(ElementKind kind);

struct Scratch;

// REQUIRES: FloatModelSupports(info.kind), IsValidBlockInfo(info). `sc` holds the buffers.
void EncodeFloatModel(const BlockInfo& info, const uint8_t* data, size_t n, std::string* out,
                      Scratch* sc);
Status DecodeFloatModel(const BlockInfo& info, const uint8_t* p, const uint8_t* end, uint8_t* data,
                        size_t n, Scratch* sc);

}  // namespace oxide::codec::internal
