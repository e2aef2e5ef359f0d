#pragma once

// Mode 2 of a residual block: the bit-length class model. Each element's value v (after a
// byte-wise zigzag for SUB8 residuals, so small negative byte differences stay small) is split
// into a token (its class c = bit_width(v) and the two bits below the leading one; values below
// 4 are their own token), entropy-coded with static rANS tables, and the c - 3 remaining low
// bits, written raw. The token is coded under a context made of
//   - the mean class of the two previous elements of its lane (rans.hpp: the four lanes decode
//     as independent chains), bucketed around the block's commonest class
//     (residual magnitudes come in runs: frozen rows, layers with one learning-rate scale), and
//   - for float kinds with a base, the base element's exponent, bucketed around the block's
//     commonest exponent (a fine-tune moves weights by roughly the same absolute amount, so the
//     residual in units of the last place shrinks as the weight's exponent grows).
// The encoder keeps whichever of the four context combinations is estimated smallest.
// Where a block has zero target elements whose residual is not already small (a pruned tensor:
// w * mask leaves +0 and -0), two more tokens say "the target is +0" / "is -0" (flag bit 3); the
// decoder rebuilds their residuals from the base element and the transform, so a pruned weight
// costs a token instead of the ~30 bits of its residual. Such a token counts as class 0 for the
// neighbour context, so runs of zeros share a context.
//
// For SUBINT/SUBORD residuals of width <= 4 the encoder also tries a sign split: a token is
// 2 * (token of |d|) + (sign of d != predicted sign), the raw bits are |d|'s, and the prediction
// is the lane's last non-zero sign (bit 4) or the base element's sign (bit 5). Layers fed by
// correlated inputs move neighbouring weights the same way (image rows, a kernel's taps), and a
// fine-tune often grows its weights; the split is kept only where it is estimated smaller.
//
// Payload (after the mode byte): flags u8 (bit 0 base-exponent context, bit 1 neighbour
// context, bit 2 predicted-class neighbour feature, bit 3 zero-target tokens, which need a base
// and transform 1-4, bit 4 or 5 sign split, bit 6 compact tables; bit 7, or bits 4 and 5
// together, are corrupt), reference class u8, [reference exponent varint], the n % width tail
// bytes verbatim, the rANS tables (table_code.hpp with bit 6, else rans.hpp's WriteTables),
// varint length of the rANS stream, the stream, then the raw bits to the end.

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.hpp"
#include "codec/residual_coder.hpp"

namespace oxide::codec::internal {

struct Scratch;

// REQUIRES: IsValidBlockInfo(info), info.transform != 0. `sc` holds the buffers
// (codec/scratch.hpp).
void EncodeClassModel(const BlockInfo& info, const uint8_t* residual, const uint8_t* base, size_t n,
                      std::string* out, Scratch* sc);
Status DecodeClassModel(const BlockInfo& info, const uint8_t* p, const uint8_t* end,
                        const uint8_t* base, uint8_t* residual, size_t n, Scratch* sc);

}  // namespace oxide::codec::internal
