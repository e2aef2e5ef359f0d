#pragma once

// Compact rANS tables (class-model flag bit 6): each used symbol's frequency is sent as one
// byte, a code on a log scale (exact up to 32, then 24 steps an octave, at most 2.4 % apart),
// and the symbol gap as an Elias-gamma bit code, about 9 bits a symbol where the plain tables
// (rans.hpp, WriteTables) take about 20. Both sides rebuild the same frequencies from the codes
// (dequantise, then renormalise to kProbScale by one integer rule), so the encoder codes with
// exactly the table the decoder reads. A 1 MiB block's tables shrink by a few KiB for a
// quantisation loss of well under 1 %; small tensors, whose tables are a large part of their
// payload, gain the most.
//
// Layout, LSB-first bits padded to a byte at the end: per context, gamma(used + 1); per used
// symbol, gamma(gap + 1) (symbol = previous symbol + 1 + gap, the first from 0) and an 8-bit
// code 0..199.

#include <cstdint>
#include <string>

#include "base/status.hpp"
#include "codec/rans.hpp"

namespace oxide::codec::internal {

// Builds t (fs only) from per-context counts [ctx * alphabet + sym] with quantised frequencies,
// and appends their compact form to *out.
void BuildAndWriteCompactTables(const uint32_t* counts, unsigned alphabet, unsigned contexts,
                                RansTables* t, std::string* out);

// Parses what BuildAndWriteCompactTables wrote (advancing *p past it) into t->fs (the decoder
// packs its own table from it: FillAllPackedSlots). kCorrupt on any inconsistency (a symbol past
// the alphabet, a code past 199, a bit code that does not end, bits past the end).
Status ReadCompactTables(const uint8_t** p, const uint8_t* end, unsigned alphabet,
                         unsigned contexts, RansTables* t);

}  // namespace oxide::codec::internal
