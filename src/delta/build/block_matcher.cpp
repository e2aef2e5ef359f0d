#include "delta/build/block_matcher.hpp"

#include <algorithm>
#include <cstring>

namespace oxide::delta::internal {

namespace {

constexpr uint64_t kMul = 0x100000001B3ull;  // FNV prime: odd, spreads bytes well mod 2^64

// Polynomial hash of kBlock bytes; Roll() slides it by one byte in O(1).
uint64_t HashBlock(const uint8_t* p) {
  uint64_t h = 0;
  for (size_t i = 0; i < BlockMatcher::kBlock; ++i) h = h * kMul + p[i] + 1;
  return h;
}

uint64_t PowBlock() {
  uint64_t p = 1;
  for (size_t i = 0; i < BlockMatcher::kBlock - 1; ++i) p *= kMul;
  return p;
}

const uint8_t* U8(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

}  // namespace

BlockMatcher::BlockMatcher(std::string_view base, std::string_view target,
                           const std::vector<std::pair<uint64_t, uint64_t>>& regions)
    : base_(base), target_(target) {
  for (auto [b, e] : regions) {
    for (uint64_t p = b; p + kBlock <= e; p += kBlock) {
      index_.emplace_back(HashBlock(U8(base_) + p), p);
    }
  }
  std::sort(index_.begin(), index_.end());
}

void BlockMatcher::Split(const Segment& lit, std::vector<Segment>* out) const {
  const uint8_t* t = U8(target_);
  const uint8_t* b = U8(base_);
  uint64_t begin = lit.target_offset, end = lit.target_offset + lit.length;
  uint64_t pending = begin;  // start of the literal bytes not yet emitted
  auto emit_literal = [&](uint64_t upto) {
    if (upto > pending) {
      Segment piece = lit;  // keeps the width and element kind of the tensor
      piece.target_offset = pending;
      piece.length = upto - pending;
      out->push_back(piece);
    }
  };
  if (index_.empty() || lit.length < kBlock) {
    out->push_back(lit);
    return;
  }
  const uint64_t pow = PowBlock();
  uint64_t pos = begin;
  uint64_t h = HashBlock(t + pos);
  while (pos + kBlock <= end) {
    auto it = std::lower_bound(index_.begin(), index_.end(), std::make_pair(h, uint64_t{0}));
    bool matched = false;
    for (; it != index_.end() && it->first == h; ++it) {
      uint64_t bo = it->second;
      if (std::memcmp(t + pos, b + bo, kBlock) != 0) continue;
      // Extend backwards over pending literal bytes, then forwards.
      uint64_t back = 0;
      while (pos - back > pending && bo - back > 0 && t[pos - back - 1] == b[bo - back - 1]) {
        ++back;
      }
      uint64_t len = kBlock;
      while (pos + len < end && bo + len < base_.size() && t[pos + len] == b[bo + len]) ++len;
      emit_literal(pos - back);
      out->push_back(
          {Segment::Kind::kCopy, pos - back, back + len, bo - back, lit.width, lit.is_float});
      pos += len;
      pending = pos;
      matched = true;
      break;
    }
    if (matched) {
      if (pos + kBlock <= end) h = HashBlock(t + pos);
      continue;
    }
    if (pos + kBlock >= end) break;
    h = (h - (t[pos] + 1ull) * pow) * kMul + t[pos + kBlock] + 1;
    ++pos;
  }
  emit_literal(end);
}

}  // namespace oxide::delta::internal
