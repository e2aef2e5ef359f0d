#pragma once

// Modes 3 and 4 of a block: literal floats (transform 0, no base; fp16, bf16 and fp32). The
// exponent field of each element is one rANS symbol, coded under the bucketed exponent of the
// element four places back (the same rANS lane, so the four lanes decode as independent chains;
// weights of one tensor share a scale, and neighbours, e.g. a row, even more so); sign and mantissa
// are close to uniform and are written raw. This is the exponent-aligned layout of ZipNN without a
// byte rotation: the coder pulls the exponent out of each element directly.
//
// Payload (after the mode byte): flags u8 (bit 0: neighbour context), reference exponent u8, the
// n % width tail bytes verbatim, the rANS tables, varint length of the rANS stream, the stream,
// then the raw sign+mantissa bits to the end: mode 3 packs them in coding order through the bit
// writer; mode 4 stores them in planes in element order (bf16: a byte plane; fp32: a 16-bit plane
// and a byte plane; fp16: three bit planes and a byte plane), so that its decoder merges eight
// elements at a time with a table-driven exponent (float_bytes_decoder.hpp). Mode 4 is at most 2
// bytes larger (fp16's bit planes each round up to a byte).

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.hpp"
#include "codec/residual_coder.hpp"

namespace oxide::codec::internal {

// True for the kinds mode 3 codes (fp16, bf16, fp32).
bool FloatModelSupports(ElementKind kind);

struct Scratch;

// How the raw sign+mantissa bits are laid out: kPackedBits for mode 3, kBytes for mode 4.
enum class FloatRaw { kPackedBits, kBytes };

// Appends the payload (without the mode byte) of the mode `layout` stands for.
// REQUIRES: FloatModelSupports(info.kind), IsValidBlockInfo(info). `sc` holds the buffers.
void EncodeFloatModel(const BlockInfo& info, const uint8_t* data, size_t n, FloatRaw layout,
                      std::string* out, Scratch* sc);
// Decodes a mode 3 payload (mode 4: DecodeFloatBytes). kCorrupt on any inconsistency.
Status DecodeFloatModel(const BlockInfo& info, const uint8_t* p, const uint8_t* end, uint8_t* data,
                        size_t n, Scratch* sc);

}  // namespace oxide::codec::internal
