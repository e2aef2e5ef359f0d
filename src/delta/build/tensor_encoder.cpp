#include "delta/build/tensor_encoder.hpp"

#include <algorithm>
#include <cstring>

#include "base/coding.hpp"
#include "delta/build/zstd_encoder.hpp"
#include "delta/patch_format.hpp"
#include "delta/transform.hpp"

namespace oxide::delta::internal {

namespace {

using format::Op;
using format::Transform;
using Kind = Segment::Kind;

constexpr int kTrialLevel = 1;

const uint8_t* U8(std::string_view s, uint64_t off) {
  return reinterpret_cast<const uint8_t*>(s.data()) + off;
}

constexpr size_t kMaxCandidates = 10;
constexpr size_t kMinFlushedPlane = 512;

// Fills `out` (room for 5) with the transforms worth trying on `s`; returns how many.
size_t CandidateTransforms(const Segment& s, uint8_t* out) {
  size_t n = 0;
  out[n++] = static_cast<uint8_t>(Transform::kXor);
  out[n++] = static_cast<uint8_t>(Transform::kSub8);
  if (s.width > 1) out[n++] = static_cast<uint8_t>(Transform::kSubInt);
  if (s.width > 1 && s.is_float) out[n++] = static_cast<uint8_t>(Transform::kSubOrd);
  out[n++] = kLiteralChoice;
  return n;
}

}  // namespace

std::vector<uint64_t> TrialBlockOffsets(uint64_t length, uint64_t max_blocks) {
  std::vector<uint64_t> offsets;
  uint64_t blocks = (length + format::kBlockBytes - 1) / format::kBlockBytes;
  uint64_t step = std::max<uint64_t>(1, blocks / std::max<uint64_t>(1, max_blocks));
  for (uint64_t b = 0; b < blocks; b += step) offsets.push_back(b * format::kBlockBytes);
  return offsets;
}

RecordWriter::RecordWriter(std::string_view base, std::string_view target)
    : base_(base), target_(target) {
  residual_.resize(format::kBlockBytes);
  grouped_.resize(format::kBlockBytes);
}

// Produces the grouped bytes of one block of `s` under transform `t` and layout `wb` (the
// record's width byte) into grouped_.
void RecordWriter::Block(const Segment& s, uint8_t t, uint8_t wb, uint64_t off, size_t n) {
  const uint8_t* tg = U8(target_, s.target_offset + off);
  if (t == kLiteralChoice) {
    GroupLayout(tg, grouped_.data(), n, wb);
    return;
  }
  ForwardTransform(static_cast<Transform>(t), s.width, tg, U8(base_, s.base_offset + off),
                   residual_.data(), n);
  GroupLayout(residual_.data(), grouped_.data(), n, wb);
}

// Picks (transform, layout) by compressing the trial blocks of the segment at a fast level.
RecordWriter::Choice RecordWriter::Choose(const Segment& s) {
  if (s.forced_width_byte != 0) return {s.forced_transform, s.forced_width_byte, 0};
  Choice cands[kMaxCandidates];
  size_t count = 0;
  uint8_t transforms[5];
  size_t nt = CandidateTransforms(s, transforms);
  for (size_t i = 0; i < nt; ++i) {
    uint8_t t = transforms[i];
    if (s.kind != Kind::kDelta && t != kLiteralChoice) continue;
    cands[count++] = {t, s.width, 0};
    cands[count++] = {t, static_cast<uint8_t>(s.width | kBitPlaneFlag), 0};
  }
  if (count == 0) return {kLiteralChoice, s.width, 0};
  const std::vector<uint64_t> offsets = TrialBlockOffsets(s.length, trial_blocks_);
  // Tries candidate c on every trial block (its transform is recomputed only when it changes:
  // candidates come in (byte planes, bit planes) pairs of one transform).
  int have = -1;
  uint64_t have_off = 0;
  auto trial = [&](size_t c) {
    const uint8_t t = cands[c].transform;
    for (uint64_t off : offsets) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(format::kBlockBytes, s.length - off));
      const uint8_t* tg = U8(target_, s.target_offset + off);
      if (t != kLiteralChoice && (t != have || off != have_off || offsets.size() > 1)) {
        ForwardTransform(static_cast<Transform>(t), s.width, tg, U8(base_, s.base_offset + off),
                         residual_.data(), n);
        have = t;
        have_off = off;
      }
      GroupLayout(t == kLiteralChoice ? tg : residual_.data(), grouped_.data(), n,
                  cands[c].width_byte);
      cands[c].trial_cost += trial_.Size(grouped_.data(), n, kTrialLevel);
    }
  };
  if (prune_layouts_) {
    // Byte planes for every transform, then bit planes for the best of them only (the layout
    // rarely changes which transform wins; bit grouping is the trials' costliest step).
    size_t best_byte = 0;
    for (size_t c = 0; c < count; c += 2) {
      trial(c);
      if (cands[c].trial_cost < cands[best_byte].trial_cost) best_byte = c;
    }
    trial(best_byte + 1);
    return cands[best_byte + 1].trial_cost < cands[best_byte].trial_cost ? cands[best_byte + 1]
                                                                         : cands[best_byte];
  }
  for (size_t c = 0; c < count; ++c) trial(c);
  size_t best = 0;
  for (size_t c = 1; c < count; ++c) {
    if (cands[c].trial_cost < cands[best].trial_cost) best = c;
  }
  return cands[best];
}

// Writes one grouped block, ending the zstd block at every byte-plane boundary: each plane
// then gets its own Huffman table instead of sharing one with planes of other statistics.
Status RecordWriter::WritePlanes(size_t n, uint8_t wb) {
  size_t w = wb & 0x0f;
  size_t plane = (wb & kBitPlaneFlag) ? (n / w / 8) * 8 : n / w;
  if (w == 1 || plane < kMinFlushedPlane) return enc_->Write(grouped_.data(), n);
  for (size_t k = 0; k < w; ++k) {
    OXIDE_RETURN_IF_ERROR(enc_->Write(grouped_.data() + k * plane, plane));
    OXIDE_RETURN_IF_ERROR(enc_->Flush());
  }
  return enc_->Write(grouped_.data() + w * plane, n - w * plane);
}

Status RecordWriter::Emit(const Segment& s, TensorEncodeStats* st) {
  if (s.kind == Kind::kCopy) {
    std::string hdr;
    hdr.push_back(static_cast<char>(Op::kCopy));
    PutVarint64(&hdr, s.base_offset);
    PutVarint64(&hdr, s.length);
    st->copy_bytes += s.length;
    ++st->records;
    st->choices.emplace_back();
    return enc_->Write(hdr.data(), hdr.size());
  }
  const Choice c = Choose(s);
  st->choices.push_back(c);
  return EmitChosen(s, c, st);
}

Status RecordWriter::EmitChosen(const Segment& s, const Choice& c, TensorEncodeStats* st) {
  const uint8_t t = c.transform, wb = c.width_byte;
  std::string hdr;
  if (t == kLiteralChoice) {
    hdr.push_back(static_cast<char>(Op::kLiteral));
    PutVarint64(&hdr, s.length);
    hdr.push_back(static_cast<char>(wb));
    st->literal_bytes += s.length;
  } else {
    hdr.push_back(static_cast<char>(Op::kDelta));
    PutVarint64(&hdr, s.base_offset);
    PutVarint64(&hdr, s.length);
    hdr.push_back(static_cast<char>(t));
    hdr.push_back(static_cast<char>(wb));
    st->delta_bytes += s.length;
  }
  ++st->records;
  OXIDE_RETURN_IF_ERROR(enc_->Write(hdr.data(), hdr.size()));
  for (uint64_t off = 0; off < s.length; off += format::kBlockBytes) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(format::kBlockBytes, s.length - off));
    Block(s, t, wb, off, n);
    OXIDE_RETURN_IF_ERROR(WritePlanes(n, wb));
  }
  return Status::Ok();
}

Result<std::string> EncodeTensorBody(std::string_view base, std::string_view target,
                                     const std::vector<Segment>& segments, int level,
                                     TensorEncodeStats* stats) {
  TensorEncodeStats local;
  TensorEncodeStats* st = stats ? stats : &local;
  std::string body;
  ZstdParams params;
  params.level = level;
  params.window_log = 23;  // bounds the device's decoder memory to 8 MiB
  params.min_match = 6;
  OXIDE_ASSIGN_OR_RETURN(auto enc, ZstdEncoder::Create(params, {}, &body));
  RecordWriter writer(base, target);
  writer.set_encoder(enc.get());
  for (const auto& s : segments) OXIDE_RETURN_IF_ERROR(writer.Emit(s, st));
  const char end = static_cast<char>(Op::kEnd);
  OXIDE_RETURN_IF_ERROR(enc->Write(&end, 1));
  OXIDE_RETURN_IF_ERROR(enc->Finish());
  return body;
}

}  // namespace oxide::delta::internal
