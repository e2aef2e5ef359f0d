#pragma once

// What a CoderContext holds (internal to the codec): the zstd contexts and the per-block
// buffers of the models, kept from one block to the next. Buffers only grow, to the largest
// block seen (a 1 MiB block: about 4 MiB when encoding, 1.5 MiB when decoding).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "codec/rans.hpp"

struct ZSTD_CCtx_s;  // zstd.h stays in zstd_planes.cpp
struct ZSTD_DCtx_s;

namespace oxide::codec::internal {

struct Scratch {
  Scratch() = default;
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  // Mode 1 (zstd byte planes).
  ZSTD_CCtx_s* cctx = nullptr;
  ZSTD_DCtx_s* dctx = nullptr;
  std::vector<uint8_t> planes;
  std::vector<char> frame;

  // Candidate payloads of one block (EncodeResidualBlock keeps the smallest).
  std::string cand;
  std::string best;

  // Models: per-element symbols, contexts and counts.
  std::vector<uint8_t> cls, tok, raw_bits, bctx, nctx, pctx, ctx, sym_order;
  std::vector<uint8_t> cls_split, tok_split, raw_split;  // the class model's sign-split tokens
  std::vector<uint8_t> zero_at, nctx_kept, pctx_kept;    // zero targets; the plain layout's
  std::vector<uint32_t> counts_kept;                     // features and counts, set aside
  std::vector<uint16_t> exps;
  std::vector<uint32_t> order, counts, pcounts, marg, best_counts, hist, base_ctx;
  std::vector<uint16_t> words;  // rANS output, last symbol first
  std::string stream;           // a finished rANS stream, before its length is known
  RansTables tables;
  std::vector<uint32_t> packed_slots;  // mode 4's decoder table (float_bytes_decoder.cpp)
};

// Grows `v` to at least n elements (never shrinks, never re-initialises) and returns its data.
template <class T>
T* Grow(std::vector<T>* v, size_t n) {
  if (v->size() < n) v->resize(n);
  return v->data();
}

}  // namespace oxide::codec::internal
