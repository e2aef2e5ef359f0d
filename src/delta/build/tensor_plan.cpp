#include "delta/build/tensor_plan.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>

#include "codec/residual_coder.hpp"
#include "delta/build/block_matcher.hpp"

namespace oxide::delta::internal {

namespace {

using tensor::Storage;
using tensor::TensorIndex;
using tensor::TensorInfo;
using Kind = Segment::Kind;

bool Indexable(const TensorInfo& t) { return t.storage != Storage::kExternal && t.length > 0; }

// The residual coder's element kind for a tensor grouped by width `w`: IEEE and bfloat16 floats
// stored as fixed-width little-endian elements get their own models, everything else is bytes.
uint8_t ElementKindOf(const TensorInfo& t, uint8_t w) {
  if (t.storage == Storage::kPackedVarint) return static_cast<uint8_t>(codec::ElementKind::kBytes);
  codec::ElementKind k = codec::ElementKind::kBytes;
  if (t.dtype == tensor::DType::kF32 && w == 4) k = codec::ElementKind::kFp32;
  if (t.dtype == tensor::DType::kF16 && w == 2) k = codec::ElementKind::kFp16;
  if (t.dtype == tensor::DType::kBF16 && w == 2) k = codec::ElementKind::kBf16;
  if (t.dtype == tensor::DType::kF64 && w == 8) k = codec::ElementKind::kFp64;
  return static_cast<uint8_t>(k);
}

// memcmp(a, b, n) == 0, in windows, each released once compared.
bool SameBytes(const char* a, const char* b, uint64_t n, const ReleaseFn& release) {
  constexpr uint64_t kWindow = uint64_t{16} << 20;
  for (uint64_t off = 0; off < n; off += kWindow) {
    const uint64_t w = std::min(kWindow, n - off);
    const bool same = std::memcmp(a + off, b + off, w) == 0;
    if (release) {
      release(a + off, w);
      release(b + off, w);
    }
    if (!same) return false;
  }
  return true;
}

Segment WithKind(Segment s, uint8_t kind) {
  s.element_kind = kind;
  return s;
}

class Planner {
 public:
  Planner(std::string_view base, std::string_view target, const ReleaseFn& release)
      : base_(base), target_(target), release_(release) {}

  void Add(Segment s) {
    if (s.length == 0) return;
    if (!out_.empty() && s.kind == Kind::kCopy && out_.back().kind == Kind::kCopy &&
        out_.back().base_offset + out_.back().length == s.base_offset) {
      out_.back().length += s.length;
      return;
    }
    out_.push_back(s);
  }

  // Framing [a, b) of the target against framing [c, d) of the base.
  void AddFraming(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
    uint64_t tn = b - a, bn = d - c;
    uint64_t p = 0;
    while (p < tn && p < bn && target_[a + p] == base_[c + p]) ++p;
    uint64_t s = 0;
    while (s < tn - p && s < bn - p && target_[b - 1 - s] == base_[d - 1 - s]) ++s;
    Add({Kind::kCopy, a, p, c, 1, false});
    Add({Kind::kLiteral, a + p, tn - p - s, 0, 1, false});
    Add({Kind::kCopy, b - s, s, d - s, 1, false});
  }

  void AddTensor(const TensorInfo& t, const TensorInfo* b) {
    uint8_t w = static_cast<uint8_t>(t.group_width());
    if (w != 1 && w != 2 && w != 4 && w != 8) w = 1;
    bool is_float = tensor::IsFloat(t.dtype) && t.storage != Storage::kPackedVarint;
    const uint8_t kind = ElementKindOf(t, w);
    if (b == nullptr) {
      Add(WithKind({Kind::kLiteral, t.offset, t.length, 0, w, is_float}, kind));
      return;
    }
    uint64_t common = std::min(t.length, b->length);
    if (t.length == b->length &&
        SameBytes(target_.data() + t.offset, base_.data() + b->offset, t.length, release_)) {
      Add({Kind::kCopy, t.offset, t.length, b->offset, w, is_float});
      return;
    }
    // Same size: element-wise delta. Resized: the shared leading rows (row-major) delta, the
    // rest is new.
    common -= common % w;
    Segment delta = WithKind({Kind::kDelta, t.offset, common, b->offset, w, is_float}, kind);
    if (t.length == b->length && t.dims.size() >= 2 && t.dims[0] > 1 &&
        (t.length / w) % static_cast<uint64_t>(t.dims[0]) == 0) {
      delta.rows = static_cast<uint64_t>(t.dims[0]);
    }
    Add(delta);
    Add(WithKind({Kind::kLiteral, t.offset + common, t.length - common, 0, w, is_float}, kind));
  }

  std::vector<Segment> Take() { return std::move(out_); }

 private:
  std::string_view base_;
  std::string_view target_;
  const ReleaseFn& release_;
  std::vector<Segment> out_;
};

bool SameLayout(const TensorInfo& a, const TensorInfo& b) {
  return a.dtype == b.dtype && a.storage == b.storage;
}

// For each target tensor, the base tensor it is coded against (or -1).
std::vector<int> MatchTensors(std::string_view base, const TensorIndex& bi, std::string_view target,
                              const TensorIndex& ti, PlanStats* st, const ReleaseFn& release) {
  std::vector<int> match(ti.tensors.size(), -1);
  std::vector<bool> used(bi.tensors.size(), false);
  std::unordered_map<std::string, int> by_name;
  std::multimap<uint64_t, int> by_length;
  std::map<std::pair<int, std::vector<int64_t>>, std::vector<int>> by_shape;
  for (size_t j = 0; j < bi.tensors.size(); ++j) {
    const auto& b = bi.tensors[j];
    if (!Indexable(b)) continue;
    by_name.emplace(b.name, static_cast<int>(j));
    by_length.emplace(b.length, static_cast<int>(j));
  }
  // 1. Name.
  for (size_t i = 0; i < ti.tensors.size(); ++i) {
    const auto& t = ti.tensors[i];
    if (!Indexable(t)) continue;
    auto it = by_name.find(t.name);
    if (it != by_name.end() && SameLayout(t, bi.tensors[it->second])) {
      match[i] = it->second;
      used[it->second] = true;
      ++st->matched_by_name;
      if (bi.tensors[it->second].length != t.length) ++st->resized;
    }
  }
  // 2. Identical content anywhere in the base (renamed or re-ordered tensors).
  for (size_t i = 0; i < ti.tensors.size(); ++i) {
    const auto& t = ti.tensors[i];
    if (match[i] >= 0 || !Indexable(t)) continue;
    auto [lo, hi] = by_length.equal_range(t.length);
    int tries = 0;
    for (auto it = lo; it != hi && tries < 16; ++it, ++tries) {
      const auto& b = bi.tensors[it->second];
      if (SameBytes(target.data() + t.offset, base.data() + b.offset, t.length, release)) {
        match[i] = it->second;
        used[it->second] = true;
        ++st->matched_by_content;
        break;
      }
    }
  }
  // 3. Same dtype and shape among base tensors nobody claimed, in file order.
  for (size_t j = 0; j < bi.tensors.size(); ++j) {
    const auto& b = bi.tensors[j];
    if (used[j] || !Indexable(b)) continue;
    by_shape[{static_cast<int>(b.dtype), b.dims}].push_back(static_cast<int>(j));
  }
  std::map<std::pair<int, std::vector<int64_t>>, size_t> next;
  for (size_t i = 0; i < ti.tensors.size(); ++i) {
    const auto& t = ti.tensors[i];
    if (match[i] >= 0 || !Indexable(t)) continue;
    auto key = std::make_pair(static_cast<int>(t.dtype), t.dims);
    auto it = by_shape.find(key);
    if (it == by_shape.end()) {
      ++st->unmatched;
      continue;
    }
    size_t& k = next[key];
    while (k < it->second.size() &&
           (used[it->second[k]] || !SameLayout(t, bi.tensors[it->second[k]]))) {
      ++k;
    }
    if (k == it->second.size()) {
      ++st->unmatched;
      continue;
    }
    match[i] = it->second[k];
    used[it->second[k]] = true;
    ++st->matched_by_shape;
  }
  return match;
}

}  // namespace

std::vector<Segment> PlanTensorPatch(std::string_view base, const TensorIndex& bi,
                                     std::string_view target, const TensorIndex& ti,
                                     PlanStats* stats, const ReleaseFn& release) {
  PlanStats local;
  PlanStats* st = stats ? stats : &local;
  std::vector<int> match = MatchTensors(base, bi, target, ti, st, release);
  // Base framing gap that follows base tensor j (j = -1: the gap before the first tensor).
  std::vector<std::pair<uint64_t, uint64_t>> base_gap_after(bi.tensors.size() + 1);
  std::unordered_map<size_t, size_t> base_pos;  // base tensor -> its rank among indexable ones
  {
    uint64_t cur = 0;
    size_t k = 0;
    for (size_t j = 0; j < bi.tensors.size(); ++j) {
      const auto& b = bi.tensors[j];
      if (!Indexable(b)) continue;
      base_gap_after[k] = {cur, b.offset};
      base_pos[j] = ++k;
      cur = b.offset + b.length;
    }
    base_gap_after[k] = {cur, base.size()};
    base_gap_after.resize(k + 1);
  }
  Planner planner(base, target, release);
  uint64_t cur = 0;
  size_t gap_rank = 0;  // base gap used for the framing before the next target tensor
  size_t t_rank = 0;
  for (size_t i = 0; i < ti.tensors.size(); ++i) {
    const auto& t = ti.tensors[i];
    if (!Indexable(t)) continue;
    // The framing before tensor i is compared with the framing before its base match, or, for a
    // new tensor, with the gap after the previous tensor's match (or the same rank).
    size_t g = gap_rank;
    if (match[i] >= 0) g = base_pos[static_cast<size_t>(match[i])] - 1;
    if (g >= base_gap_after.size()) g = std::min(t_rank, base_gap_after.size() - 1);
    auto [c, d] = base_gap_after[g];
    planner.AddFraming(cur, t.offset, c, d);
    planner.AddTensor(t, match[i] >= 0 ? &bi.tensors[static_cast<size_t>(match[i])] : nullptr);
    gap_rank = match[i] >= 0 ? base_pos[static_cast<size_t>(match[i])] : gap_rank + 1;
    cur = t.offset + t.length;
    ++t_rank;
  }
  size_t g = std::min(gap_rank, base_gap_after.size() - 1);
  auto [c, d] = base_gap_after[g];
  planner.AddFraming(cur, target.size(), c, d);
  std::vector<Segment> planned = planner.Take();

  // Bytes still shipped as literals may exist elsewhere in the base (re-ordered or concatenated
  // weights, moved framing): search the base tensors nobody claimed and the base framing.
  std::vector<bool> claimed(bi.tensors.size(), false);
  for (int m : match) {
    if (m >= 0) claimed[static_cast<size_t>(m)] = true;
  }
  std::vector<std::pair<uint64_t, uint64_t>> regions(base_gap_after.begin(), base_gap_after.end());
  for (size_t j = 0; j < bi.tensors.size(); ++j) {
    if (!claimed[j] && Indexable(bi.tensors[j])) {
      regions.emplace_back(bi.tensors[j].offset, bi.tensors[j].offset + bi.tensors[j].length);
    }
  }
  bool any_literal = false;
  for (const auto& sgm : planned) {
    any_literal |= sgm.kind == Kind::kLiteral && sgm.length >= BlockMatcher::kBlock;
  }
  if (!any_literal) return planned;
  BlockMatcher matcher(base, target, regions);
  Planner merged(base, target, release);
  std::vector<Segment> pieces;
  for (const auto& sgm : planned) {
    if (sgm.kind != Kind::kLiteral) {
      merged.Add(sgm);
      continue;
    }
    pieces.clear();
    matcher.Split(sgm, &pieces);
    for (const auto& piece : pieces) merged.Add(piece);
  }
  return merged.Take();
}

}  // namespace oxide::delta::internal
