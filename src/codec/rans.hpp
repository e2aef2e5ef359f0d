#pragma once

// Interleaved rANS with static, per-block context tables (issue #13). A model is `contexts`
// frequency tables over one alphabet (at most 256 symbols), each normalised to kProbBits bits
// and sent in the payload ahead of the coded words. Four coder states take the symbols in turn
// (symbol i uses state i % 4), which keeps four independent update chains in flight on decode.
// States are 32 bits with 16-bit renormalisation, so a symbol reads at most one word.
//
// Stream layout: the four final encoder states (4 x u32 LE), then the 16-bit words in the order
// the decoder consumes them. The decoder must end with every state back at kRansLow and every
// word consumed, which catches most corruption of the coded part.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "base/status.hpp"

namespace oxide::codec::internal {

inline constexpr unsigned kProbBits = 12;
inline constexpr uint32_t kProbScale = uint32_t{1} << kProbBits;
inline constexpr uint32_t kRansLow = uint32_t{1} << 16;
inline constexpr unsigned kRansStates = 4;
inline constexpr unsigned kMaxAlphabet = 256;

// The frequency tables of one model. `fs` packs freq | start << 16 for [ctx * alphabet + sym];
// freq 0 marks a symbol (or a whole context) the block never uses.
struct RansTables {
  unsigned alphabet = 0;
  unsigned contexts = 0;
  std::vector<uint32_t> fs;
  std::vector<uint8_t> slot_sym;  // decoder only: [ctx << kProbBits | slot] -> symbol
};

// Normalises counts[0, alphabet) to frequencies summing to kProbScale, every counted symbol
// keeping at least 1. All-zero counts give all-zero frequencies (an unused context).
void NormaliseCounts(const uint32_t* counts, unsigned alphabet, uint16_t* freq);

// Estimated size in bits of coding `counts` with a static table, table included (at about
// `table_bits_per_symbol` a used symbol: 20 for WriteTables).
double EstimateCostBits(const uint32_t* counts, unsigned alphabet,
                        double table_bits_per_symbol = 20.0);

// Builds tables (fs only) from per-context counts [ctx * alphabet + sym].
void BuildEncoderTables(const uint32_t* counts, unsigned alphabet, unsigned contexts,
                        RansTables* t);
// Appends the compact form of the tables: per context the number of used symbols (varint), then
// (symbol gap, freq - 1) varint pairs.
void WriteTables(const RansTables& t, std::string* out);
// Parses what WriteTables wrote and, if `slot_table`, builds the decoder's slot table (t->slot_sym;
// a decoder with its own, see FillPackedSlots, skips it). kCorrupt on any inconsistency (symbol
// out of range or out of order, frequencies not summing to kProbScale).
Status ReadTables(const uint8_t** p, const uint8_t* end, unsigned alphabet, unsigned contexts,
                  RansTables* t, bool slot_table = true);

// A decoder table with one 32-bit load per symbol: for each slot, symbol | (freq - 1) << 8 |
// (slot - start) << 20, so that x' = freq * (x >> kProbBits) + (slot - start).
inline constexpr unsigned kPackedFreqShift = 8;
inline constexpr unsigned kPackedBiasShift = 20;
// True when context `ctx` of t codes any symbol (its frequencies sum to kProbScale).
bool ContextUsed(const RansTables& t, unsigned ctx);
// Fills slots[0, kProbScale) for context `ctx` of t. REQUIRES: ContextUsed(t, ctx).
void FillPackedSlots(const RansTables& t, unsigned ctx, uint32_t* slots);
// A symbol no alphabet reaches (alphabets have fewer than 255 symbols): the slots of an unused
// context decode it (freq 1), and RansDecoder::DecodePacked flags it, as Decode flags freq 0.
inline constexpr uint32_t kTrapSymbol = 255;
// Fills slots[0, kProbScale) for every context of t, trap slots for the unused ones.
void FillAllPackedSlots(const RansTables& t, uint32_t* slots);

// Codes syms[i] under context ctxs[i] (i < count) and appends the stream to *out. `words`
// (may be nullptr) is scratch space kept by the caller between calls.
void RansEncode(const RansTables& t, const uint8_t* syms, const uint8_t* ctxs, size_t count,
                std::string* out, std::vector<uint16_t>* words = nullptr);

// Lanes: a block's `count` symbols are coded as four interleaved chains, so that a model whose
// context depends on the previous symbol still decodes as four independent dependency chains.
// With q = count / 4, lane j holds elements [j * q, (j + 1) * q), and the count % 4 elements
// from 4q on continue lane 3. Coding (decode) position p < 4q is element (p % 4) * q + p / 4
// under state p % 4; positions from 4q on are their own element, under state p % 4.
inline size_t LaneElement(size_t p, size_t q) { return p < 4 * q ? (p % 4) * q + p / 4 : p; }
// True when element i has a predecessor in its lane (i - 1).
inline bool HasLanePrev(size_t i, size_t q) { return i < 4 * q ? i % q != 0 : i >= 1; }

// Calls step(element, state, lane) for the `count` elements in coding order (see LaneElement);
// unrolled over the four lanes so their dependency chains overlap.
template <class Step>
inline void ForEachInCodingOrder(size_t count, Step& step) {
  const size_t q = count / kRansStates;
  for (size_t k = 0; k < q; ++k) {
    step(k, 0, 0);
    step(q + k, 1, 1);
    step(2 * q + k, 2, 2);
    step(3 * q + k, 3, 3);
  }
  for (size_t i = 4 * q; i < count; ++i) step(i, static_cast<unsigned>(i % kRansStates), 3);
}

class RansDecoder;

// The part of a model payload after its own header, shared by the models: the `tail` bytes
// (n % width) verbatim, the tables, varint length of the rANS stream, the stream; the raw bits
// follow to the end of the payload.
void WriteModelBody(const uint8_t* tail, size_t tail_len, const RansTables& t, const uint8_t* syms,
                    const uint8_t* ctxs, size_t count, std::string* out,
                    std::vector<uint16_t>* words);
// Copies the tail to tail_out, reads the tables and sets up *dec; *p ends at the raw bits.
Status ReadModelBody(const uint8_t** p, const uint8_t* end, uint8_t* tail_out, size_t tail_len,
                     unsigned alphabet, unsigned contexts, RansTables* t, RansDecoder* dec);
// As ReadModelBody, for a decoder of its own: the stream is [*stream, *stream_end) (inside
// [*p, end), not checked further), and t->slot_sym is built only if `slot_table`.
Status ReadModelParts(const uint8_t** p, const uint8_t* end, uint8_t* tail_out, size_t tail_len,
                      unsigned alphabet, unsigned contexts, bool slot_table, RansTables* t,
                      const uint8_t** stream, const uint8_t** stream_end);

class RansDecoder {
 public:
  // Takes the stream [begin, end); kCorrupt when it cannot hold the four states.
  Status Init(const uint8_t* begin, const uint8_t* end) {
    if (end - begin < static_cast<ptrdiff_t>(4 * kRansStates) || (end - begin) % 2 != 0) {
      return Corrupt("residual block: rANS stream too short or odd");
    }
    for (unsigned j = 0; j < kRansStates; ++j) std::memcpy(&x_[j], begin + 4 * j, 4);
    wp_ = begin + 4 * kRansStates;
    wend_ = end;
    return Status::Ok();
  }

  // Decodes one symbol with state j under the context whose tables start at fs / slot_sym.
  // A symbol of freq 0 (unused context, forged table) sets the error flag instead.
  inline unsigned Decode(unsigned j, const uint32_t* fs, const uint8_t* slot_sym) {
    uint32_t x = x_[j];
    uint32_t slot = x & (kProbScale - 1);
    unsigned sym = slot_sym[slot];
    uint32_t e = fs[sym];
    uint32_t freq = e & 0xffff;
    bad_ |= freq == 0;
    x = freq * (x >> kProbBits) + slot - (e >> 16);
    uint32_t word = 0;
    bool have = wend_ - wp_ >= 2;
    if (have) word = static_cast<uint32_t>(wp_[0]) | static_cast<uint32_t>(wp_[1]) << 8;
    bool need = x < kRansLow;
    bad_ |= need && !have;
    x = need ? (x << 16) | word : x;
    wp_ += need ? 2 : 0;
    x_[j] = x;
    return sym;
  }

  // As Decode, from a table of FillAllPackedSlots: one load a symbol instead of two dependent ones.
  inline unsigned DecodePacked(unsigned j, const uint32_t* slots) {
    uint32_t x = x_[j];
    uint32_t d = slots[x & (kProbScale - 1)];
    unsigned sym = d & 0xff;
    bad_ |= sym == kTrapSymbol;
    x = ((d >> kPackedFreqShift & (kProbScale - 1)) + 1) * (x >> kProbBits) +
        (d >> kPackedBiasShift);
    uint32_t word = 0;
    bool have = wend_ - wp_ >= 2;
    if (have) word = static_cast<uint32_t>(wp_[0]) | static_cast<uint32_t>(wp_[1]) << 8;
    bool need = x < kRansLow;
    bad_ |= need && !have;
    x = need ? (x << 16) | word : x;
    wp_ += need ? 2 : 0;
    x_[j] = x;
    return sym;
  }

  // True when the stream was consumed exactly and every state is back where encoding began.
  bool Finished() const {
    if (bad_ || wp_ != wend_) return false;
    for (unsigned j = 0; j < kRansStates; ++j) {
      if (x_[j] != kRansLow) return false;
    }
    return true;
  }

 private:
  uint32_t x_[kRansStates] = {};
  const uint8_t* wp_ = nullptr;
  const uint8_t* wend_ = nullptr;
  bool bad_ = false;
};

}  // namespace oxide::codec::internal
