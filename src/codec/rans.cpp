#include "codec/rans.hpp"

#include <algorithm>
#include <cmath>

#include "base/coding.hpp"

namespace oxide::codec::internal {

void NormaliseCounts(const uint32_t* counts, unsigned alphabet, uint16_t* freq) {
  uint64_t total = 0;
  for (unsigned s = 0; s < alphabet; ++s) total += counts[s];
  if (total == 0) {
    std::fill(freq, freq + alphabet, uint16_t{0});
    return;
  }
  int64_t sum = 0;
  unsigned largest = 0;
  for (unsigned s = 0; s < alphabet; ++s) {
    if (counts[s] == 0) {
      freq[s] = 0;
      continue;
    }
    uint64_t f = (uint64_t{counts[s]} * kProbScale + total / 2) / total;
    freq[s] = static_cast<uint16_t>(std::max<uint64_t>(f, 1));
    sum += freq[s];
    if (counts[s] > counts[largest]) largest = s;
  }
  // Rounding and the minimum of 1 leave sum a little off; take the difference from the
  // biggest symbols, where it costs least.
  int64_t diff = static_cast<int64_t>(kProbScale) - sum;
  if (diff > 0) {
    freq[largest] = static_cast<uint16_t>(freq[largest] + diff);
    return;
  }
  while (diff < 0) {
    unsigned best = 0;
    for (unsigned s = 0; s < alphabet; ++s) {
      if (freq[s] > freq[best]) best = s;
    }
    int64_t take = std::min<int64_t>(-diff, freq[best] - 1);
    freq[best] = static_cast<uint16_t>(freq[best] - take);
    diff += take;
  }
}

double EstimateCostBits(const uint32_t* counts, unsigned alphabet, double table_bits_per_symbol) {
  uint64_t total = 0;
  unsigned used = 0;
  for (unsigned s = 0; s < alphabet; ++s) {
    total += counts[s];
    used += counts[s] != 0;
  }
  if (total == 0) return 8;
  double bits = 8 + used * table_bits_per_symbol;
  double log_total = std::log2(static_cast<double>(total));
  for (unsigned s = 0; s < alphabet; ++s) {
    if (counts[s] != 0) {
      bits += counts[s] * (log_total - std::log2(static_cast<double>(counts[s])));
    }
  }
  return bits;
}

void BuildEncoderTables(const uint32_t* counts, unsigned alphabet, unsigned contexts,
                        RansTables* t) {
  t->alphabet = alphabet;
  t->contexts = contexts;
  t->fs.assign(size_t{alphabet} * contexts, 0);
  t->slot_sym.clear();
  std::vector<uint16_t> freq(alphabet);
  for (unsigned c = 0; c < contexts; ++c) {
    NormaliseCounts(counts + size_t{c} * alphabet, alphabet, freq.data());
    uint32_t start = 0;
    for (unsigned s = 0; s < alphabet; ++s) {
      t->fs[size_t{c} * alphabet + s] = freq[s] | (freq[s] ? start << 16 : 0);
      start += freq[s];
    }
  }
}

void WriteTables(const RansTables& t, std::string* out) {
  for (unsigned c = 0; c < t.contexts; ++c) {
    const uint32_t* fs = t.fs.data() + size_t{c} * t.alphabet;
    unsigned used = 0;
    for (unsigned s = 0; s < t.alphabet; ++s) used += (fs[s] & 0xffff) != 0;
    PutVarint64(out, used);
    unsigned next = 0;
    for (unsigned s = 0; s < t.alphabet; ++s) {
      uint32_t f = fs[s] & 0xffff;
      if (f == 0) continue;
      PutVarint64(out, s - next);
      PutVarint64(out, f - 1);
      next = s + 1;
    }
  }
}

Status ReadTables(const uint8_t** p, const uint8_t* end, unsigned alphabet, unsigned contexts,
                  RansTables* t, bool slot_table) {
  t->alphabet = alphabet;
  t->contexts = contexts;
  t->fs.assign(size_t{alphabet} * contexts, 0);
  // Not cleared as a whole (it is reused from block to block): a used context overwrites all of
  // its slots below, an unused one is zeroed, so no slot names a symbol from an earlier table.
  if (slot_table && t->slot_sym.size() < (size_t{contexts} << kProbBits)) {
    t->slot_sym.resize(size_t{contexts} << kProbBits);
  }
  for (unsigned c = 0; c < contexts; ++c) {
    uint64_t used = 0;
    if (!GetVarint64(p, end, &used) || used > alphabet) {
      return Corrupt("residual block: bad symbol count in a table");
    }
    uint32_t* fs = t->fs.data() + size_t{c} * alphabet;
    uint8_t* slots = slot_table ? t->slot_sym.data() + (size_t{c} << kProbBits) : nullptr;
    if (used == 0) {  // fs stays 0: decoding under this context sets the error flag
      if (slots != nullptr) std::memset(slots, 0, kProbScale);
      continue;
    }
    uint64_t next = 0;
    uint32_t start = 0;
    for (uint64_t k = 0; k < used; ++k) {
      uint64_t gap = 0, f1 = 0;
      if (!GetVarint64(p, end, &gap) || !GetVarint64(p, end, &f1)) {
        return Corrupt("residual block: truncated table");
      }
      if (gap >= alphabet || next + gap >= alphabet || f1 >= kProbScale ||
          start + f1 + 1 > kProbScale) {
        return Corrupt("residual block: table entry out of range");
      }
      uint64_t s = next + gap;
      uint32_t f = static_cast<uint32_t>(f1 + 1);
      fs[s] = f | start << 16;
      if (slots != nullptr) std::memset(slots + start, static_cast<int>(s), f);
      start += f;
      next = s + 1;
    }
    if (start != kProbScale) return Corrupt("residual block: table frequencies do not sum up");
  }
  return Status::Ok();
}

bool ContextUsed(const RansTables& t, unsigned ctx) {
  const uint32_t* fs = t.fs.data() + size_t{ctx} * t.alphabet;
  for (unsigned s = 0; s < t.alphabet; ++s) {
    if ((fs[s] & 0xffff) != 0) return true;
  }
  return false;
}

void FillPackedSlots(const RansTables& t, unsigned ctx, uint32_t* slots) {
  // Four slots per store with the compilers' generic vectors: a block fills up to 9 x 4096
  // slots, which costs more than decoding a small tensor.
  using V4u32 = uint32_t __attribute__((vector_size(16)));
  constexpr uint32_t kOne = uint32_t{1} << kPackedBiasShift;
  const uint32_t* fs = t.fs.data() + size_t{ctx} * t.alphabet;
  for (unsigned s = 0; s < t.alphabet; ++s) {
    uint32_t f = fs[s] & 0xffff;
    if (f == 0) continue;
    uint32_t* dst = slots + (fs[s] >> 16);
    uint32_t e = s | (f - 1) << kPackedFreqShift;
    V4u32 v = {e, e | kOne, e | 2 * kOne, e | 3 * kOne};
    uint32_t k = 0;
    for (; k + 4 <= f; k += 4) {
      std::memcpy(dst + k, &v, sizeof(v));
      v += 4 * kOne;
    }
    for (; k < f; ++k) dst[k] = e | k << kPackedBiasShift;
  }
}

void FillAllPackedSlots(const RansTables& t, uint32_t* slots) {
  for (unsigned c = 0; c < t.contexts; ++c) {
    uint32_t* dst = slots + (size_t{c} << kProbBits);
    if (ContextUsed(t, c)) {
      FillPackedSlots(t, c, dst);
    } else {
      std::fill(dst, dst + kProbScale, kTrapSymbol);
    }
  }
}

namespace {

// Codes the symbols backwards: the four final states into x, the renormalisation words into
// *words, last-emitted first.
void EncodeWords(const RansTables& t, const uint8_t* syms, const uint8_t* ctxs, size_t count,
                 uint32_t* x, std::vector<uint16_t>* words) {
  for (unsigned j = 0; j < kRansStates; ++j) x[j] = kRansLow;
  words->clear();
  words->reserve(count / 2 + 16);
  for (size_t i = count; i-- > 0;) {
    unsigned j = static_cast<unsigned>(i % kRansStates);
    uint32_t e = t.fs[size_t{ctxs[i]} * t.alphabet + syms[i]];
    uint32_t f = e & 0xffff;
    uint32_t s = e >> 16;
    uint64_t x_max = uint64_t{f} << (32 - kProbBits);
    if (x[j] >= x_max) {
      words->push_back(static_cast<uint16_t>(x[j] & 0xffff));
      x[j] >>= 16;
    }
    x[j] = ((x[j] / f) << kProbBits) + (x[j] % f) + s;
  }
}

size_t StreamSize(const std::vector<uint16_t>& words) { return 4 * kRansStates + 2 * words.size(); }

void AppendStream(const uint32_t* x, const std::vector<uint16_t>& words, std::string* out) {
  size_t at = out->size();
  out->resize(at + StreamSize(words));
  char* dst = out->data() + at;
  for (unsigned j = 0; j < kRansStates; ++j) std::memcpy(dst + 4 * j, &x[j], 4);
  dst += 4 * kRansStates;
  for (size_t k = words.size(); k-- > 0;) {
    std::memcpy(dst, &words[k], 2);
    dst += 2;
  }
}

}  // namespace

void RansEncode(const RansTables& t, const uint8_t* syms, const uint8_t* ctxs, size_t count,
                std::string* out, std::vector<uint16_t>* words_scratch) {
  std::vector<uint16_t> local;
  std::vector<uint16_t>& words = words_scratch != nullptr ? *words_scratch : local;
  uint32_t x[kRansStates];
  EncodeWords(t, syms, ctxs, count, x, &words);
  AppendStream(x, words, out);
}

void WriteModelBody(const uint8_t* tail, size_t tail_len, const RansTables& t, const uint8_t* syms,
                    const uint8_t* ctxs, size_t count, std::string* out,
                    std::vector<uint16_t>* words) {
  out->append(reinterpret_cast<const char*>(tail), tail_len);
  WriteTables(t, out);
  uint32_t x[kRansStates];
  EncodeWords(t, syms, ctxs, count, x, words);
  PutVarint64(out, StreamSize(*words));
  AppendStream(x, *words, out);
}

Status ReadModelParts(const uint8_t** p, const uint8_t* end, uint8_t* tail_out, size_t tail_len,
                      unsigned alphabet, unsigned contexts, bool slot_table, RansTables* t,
                      const uint8_t** stream, const uint8_t** stream_end) {
  if (static_cast<size_t>(end - *p) < tail_len) return Corrupt("coded block: truncated tail");
  if (tail_len != 0) std::memcpy(tail_out, *p, tail_len);
  *p += tail_len;
  OXIDE_RETURN_IF_ERROR(ReadTables(p, end, alphabet, contexts, t, slot_table));
  uint64_t stream_len = 0;
  if (!GetVarint64(p, end, &stream_len) || stream_len > static_cast<uint64_t>(end - *p)) {
    return Corrupt("coded block: bad rANS stream length");
  }
  *stream = *p;
  *stream_end = *p + stream_len;
  *p += stream_len;
  return Status::Ok();
}

Status ReadModelBody(const uint8_t** p, const uint8_t* end, uint8_t* tail_out, size_t tail_len,
                     unsigned alphabet, unsigned contexts, RansTables* t, RansDecoder* dec) {
  const uint8_t* stream = nullptr;
  const uint8_t* stream_end = nullptr;
  OXIDE_RETURN_IF_ERROR(ReadModelParts(p, end, tail_out, tail_len, alphabet, contexts, true, t,
                                       &stream, &stream_end));
  return dec->Init(stream, stream_end);
}

}  // namespace oxide::codec::internal
