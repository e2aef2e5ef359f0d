#include "delta/build/coded_encoder.hpp"

#include <algorithm>
#include <memory>

#include "base/coding.hpp"
#include "codec/residual_coder.hpp"
#include "delta/build/zstd_encoder.hpp"
#include "delta/patch_format.hpp"
#include "delta/scaled_transform.hpp"
#include "delta/transform.hpp"

namespace oxide::delta::internal {

namespace {

using format::Chunk;
using format::Transform;
using Kind = Segment::Kind;

const uint8_t* U8(std::string_view s, uint64_t off) {
  return reinterpret_cast<const uint8_t*>(s.data()) + off;
}

// Rows shorter than this spend more on their scale (4 bytes) than a scale can save; above it
// the trial blocks decide, their prefix of scales counted.
constexpr uint64_t kMinScaledRow = 4;

// The streamed build tries transform 5 where a sample of rows codes at most this fraction of
// transform 4's bits (ScaledSampleRatio).
constexpr double kScaledSampleGain = 0.97;

bool CanScale(const Segment& s) {
  if (s.kind != Segment::Kind::kDelta || s.rows < 2 || s.width != 4) return false;
  if (s.element_kind != static_cast<uint8_t>(codec::ElementKind::kFp32)) return false;
  const uint64_t elements = s.length / 4;
  return elements % s.rows == 0 && elements / s.rows >= kMinScaledRow;
}

// The codec's block description for segment `s` under `transform` (0: no base), or nullopt-like
// `false` when the segment cannot be coded (a width the codec does not take, a partial element).
bool InfoFor(const Segment& s, uint8_t transform, codec::BlockInfo* info) {
  if (s.length % s.width != 0) return false;
  info->kind = static_cast<codec::ElementKind>(s.element_kind);
  info->width = s.width;
  info->transform = transform;
  if (!codec::IsValidBlockInfo(*info)) {
    info->kind = codec::ElementKind::kBytes;
    if (!codec::IsValidBlockInfo(*info)) return false;
  }
  if (transform == format::kScaledSubOrd) return CanScale(s);
  return transform == 0 || IsValidTransform(transform, s.width);
}

}  // namespace

class CodedWriter {
 public:
  CodedWriter(std::string_view base, std::string_view target, int level, CodedChoice choice,
              CodedEncodeStats* st, std::string* body)
      : base_(base),
        target_(target),
        level_(level),
        choice_(choice),
        st_(st),
        body_(body),
        records_(base, target) {
    residual_.resize(format::kBlockBytes);
  }

  // How one segment is written: decided for all segments before anything is encoded, so a
  // body in which no tensor is coded is never built.
  struct Decision {
    bool coded = false;
    uint8_t coded_transform = 0;
    bool zstd_known = false;
    RecordWriter::Choice zstd;
  };

  // `known`: the tensor strategy's trial choice for `s`, or nullptr.
  Decision Decide(const Segment& s, const RecordWriter::Choice* known) {
    Decision d;
    if (known != nullptr) {
      d.zstd = *known;
      d.zstd_known = true;
    }
    if (s.kind == Kind::kCopy || choice_ == CodedChoice::kNeverCoded) return d;
    if (s.forced_width_byte != 0) return d;
    if (s.length < kMinCodedBytes && choice_ != CodedChoice::kAlwaysCoded) return d;
    int only = -1;
    if (fast_ && choice_ == CodedChoice::kAuto) {
      // Large models: the codec is tried with the transform the zstd trial chose (LITERAL is
      // transform 0), not with every transform; the best transform rarely differs between them.
      if (!d.zstd_known) {
        d.zstd = records_.Choose(s);
        d.zstd_known = true;
      }
      only = d.zstd.transform;
    }
    // The full trial computes every row's scale, too slow for the streamed build (dense 300 MB
    // diff 0.84 -> 1.31 s); a sample of rows says where a trial is worth it (folded BatchNorm,
    // weight decay) at the cost of ~64 K elements a tensor. Whatever zstd's trial chose: a
    // rescaled tensor differs in every mantissa bit, so there the trial often picks LITERAL.
    const bool try_scaled =
        only >= 0 && CanScale(s) &&
        ScaledSampleRatio(U8(target_, s.target_offset), U8(base_, s.base_offset), s.length / 4,
                          s.length / 4 / s.rows) < kScaledSampleGain;
    if (!ChooseCoded(s, &d.coded_transform, only, try_scaled)) return d;
    if (choice_ == CodedChoice::kAlwaysCoded) {
      d.coded = true;
      return d;
    }
    if (!d.zstd_known) {
      d.zstd = records_.Choose(s);
      d.zstd_known = true;
    }
    // The trial compresses at a fast level; on byte planes the chunk's final level gains a few
    // percent more, so there the codec has to win by more than that. Bit planes of a residual
    // are close to random bits, where zstd's levels differ by well under 1 % (measured: 560,735
    // trial bytes against 561,121 final on a fine-tuned 737 KB conv weight).
    const bool bit_planes = (d.zstd.width_byte & kBitPlaneFlag) != 0;
    d.coded = bit_planes ? coded_cost_ * 100 < d.zstd.trial_cost * 99
                         : coded_cost_ * 20 < d.zstd.trial_cost * 19;
    return d;
  }

  Status Add(const Segment& s, const Decision& d) {
    if (d.coded) return EmitCoded(s, d.coded_transform);
    OXIDE_RETURN_IF_ERROR(OpenChunk());
    if (s.kind == Kind::kCopy) return records_.Emit(s, &st_->records);
    return records_.EmitChosen(s, d.zstd_known ? d.zstd : records_.Choose(s), &st_->records);
  }

  Status Finish() {
    OXIDE_RETURN_IF_ERROR(CloseChunk());
    body_->push_back(static_cast<char>(Chunk::kEnd));
    return Status::Ok();
  }

  // Where the next chunks go (CodedChunkEncoder: one body fragment per work item).
  void Reset(std::string* body, CodedEncodeStats* st) {
    body_ = body;
    st_ = st;
  }
  void set_fast(bool fast) {
    fast_ = fast;
    records_.set_trial_blocks(fast ? 1 : 2);
    records_.set_prune_layouts(fast);
  }

  Status CloseChunk() {
    if (!enc_) return Status::Ok();
    OXIDE_RETURN_IF_ERROR(enc_->Finish());
    enc_.reset();
    records_.set_encoder(nullptr);
    body_->push_back(static_cast<char>(Chunk::kZstd));
    PutVarint64(body_, chunk_.size());
    body_->append(chunk_);
    ++st_->zstd_chunks;
    return Status::Ok();
  }

 private:
  // Fills residual_[0, n) for block `off` of `s` under `t`; returns the base bytes (or nullptr).
  const uint8_t* Residual(const Segment& s, uint8_t t, uint64_t off, size_t n) {
    const uint8_t* tg = U8(target_, s.target_offset + off);
    if (t == 0) {
      std::copy(tg, tg + n, residual_.data());
      return nullptr;
    }
    const uint8_t* b = U8(base_, s.base_offset + off);
    if (t == format::kScaledSubOrd) {
      ScaledForward(scales_, off / 4, tg, b, residual_.data(), n);
      return b;
    }
    ForwardTransform(static_cast<Transform>(t), s.width, tg, b, residual_.data(), n);
    return b;
  }

  // Every row's scale of segment `s` (rows from 0, so any block indexes it directly).
  void ComputeScales(const Segment& s) {
    scales_.row_len = s.length / 4 / s.rows;
    scales_.first_row = 0;
    scales_.scale = EstimateRowScales(U8(target_, s.target_offset), U8(base_, s.base_offset),
                                      s.length / 4, scales_.row_len);
  }

  // Codes block `off` of `s` under `t` into trial_: the scale prefix of transform 5, then the
  // codec payload.
  void EncodeBlock(const Segment& s, uint8_t t, const codec::BlockInfo& info, uint64_t off,
                   size_t n) {
    trial_.clear();
    if (t == format::kScaledSubOrd) {
      AppendScalePrefix(scales_.scale, scales_.row_len, off / 4, n, &trial_);
    }
    const uint8_t* b = Residual(s, t, off, n);
    codec::EncodeResidualBlock(info, residual_.data(), b, n, &trial_, {}, &coder_);
  }

  // The transform (0 = none) whose trial blocks the codec codes smallest; false when the segment
  // cannot be coded. Sets coded_cost_.
  bool ChooseCoded(const Segment& s, uint8_t* best, int only, bool try_scaled) {
    uint8_t cands[6];
    size_t count = 0;
    if (s.kind == Kind::kDelta) {
      cands[count++] = static_cast<uint8_t>(Transform::kXor);
      cands[count++] = static_cast<uint8_t>(Transform::kSub8);
      if (s.width > 1) cands[count++] = static_cast<uint8_t>(Transform::kSubInt);
      if (s.width > 1 && s.is_float) cands[count++] = static_cast<uint8_t>(Transform::kSubOrd);
      if (only < 0 && CanScale(s)) {  // the fast path (large models) tries one transform only
        ComputeScales(s);
        cands[count++] = format::kScaledSubOrd;
      }
    }
    cands[count++] = 0;
    if (only >= 0) {
      cands[0] = static_cast<uint8_t>(only);
      count = 1;
      if (try_scaled) {
        ComputeScales(s);
        cands[count++] = format::kScaledSubOrd;
      }
    }
    const std::vector<uint64_t> offsets = TrialBlockOffsets(s.length, fast_ ? 1 : 2);
    bool any = false;
    for (size_t c = 0; c < count; ++c) {
      codec::BlockInfo info;
      if (!InfoFor(s, cands[c], &info)) continue;
      uint64_t cost = 0;
      for (uint64_t off : offsets) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(format::kBlockBytes, s.length - off));
        EncodeBlock(s, cands[c], info, off, n);
        cost += trial_.size();
      }
      if (!any || cost < coded_cost_) {
        coded_cost_ = cost;
        *best = cands[c];
        any = true;
      }
    }
    return any;
  }

  Status EmitCoded(const Segment& s, uint8_t t) {
    OXIDE_RETURN_IF_ERROR(CloseChunk());
    // Every segment is decided before any is written: scales_ may be another segment's.
    if (t == format::kScaledSubOrd) ComputeScales(s);
    codec::BlockInfo info;
    InfoFor(s, t, &info);  // ChooseCoded accepted it
    body_->push_back(static_cast<char>(Chunk::kCoded));
    PutVarint64(body_, t == 0 ? 0 : s.base_offset);
    PutVarint64(body_, s.length);
    body_->push_back(static_cast<char>(t));
    body_->push_back(static_cast<char>(info.kind));
    body_->push_back(static_cast<char>(info.width));
    for (uint64_t off = 0; off < s.length; off += format::kBlockBytes) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(format::kBlockBytes, s.length - off));
      EncodeBlock(s, t, info, off, n);
      if (trial_.size() > format::kMaxCodedPayload) {
        return Internal("residual coder exceeded the format's payload bound");
      }
      PutVarint64(body_, trial_.size());
      body_->append(trial_);
      st_->coded_payload += trial_.size();
    }
    ++st_->coded_chunks;
    st_->coded_bytes += s.length;
    return Status::Ok();
  }

  Status OpenChunk() {
    if (enc_) return Status::Ok();
    chunk_.clear();
    ZstdParams params;
    params.level = level_;
    // Bounds the device's decoder memory; the streamed build of large models (fast_) uses 1 MiB:
    // residual planes hold no long-distance matches, and the device saves 7 MiB.
    params.window_log = fast_ ? kFastChunkWindowLog : format::kChunkWindowLog;
    params.min_match = 6;
    OXIDE_ASSIGN_OR_RETURN(enc_, ZstdEncoder::Create(params, {}, &chunk_));
    records_.set_encoder(enc_.get());
    return Status::Ok();
  }

  std::string_view base_;
  std::string_view target_;
  int level_;
  CodedChoice choice_;
  CodedEncodeStats* st_;
  std::string* body_;
  RecordWriter records_;
  std::unique_ptr<ZstdEncoder> enc_;  // the open ZSTD chunk, if any
  std::string chunk_;                 // its compressed bytes
  std::vector<uint8_t> residual_;
  std::string trial_;
  RowScales scales_;           // per-row scales of the segment being coded (transform 5)
  codec::CoderContext coder_;  // the codec's contexts and buffers, reused for every block
  uint64_t coded_cost_ = 0;
  bool fast_ = false;
};

CodedChunkEncoder::CodedChunkEncoder(std::string_view base, std::string_view target, int level)
    : writer_(std::make_unique<CodedWriter>(base, target, level, CodedChoice::kAuto, &stats_,
                                            nullptr)) {
  writer_->set_fast(true);
}

CodedChunkEncoder::~CodedChunkEncoder() = default;

Status CodedChunkEncoder::Encode(const std::vector<Segment>& segments, size_t begin, size_t end,
                                 std::string* out, CodedEncodeStats* stats) {
  writer_->Reset(out, stats);
  for (size_t i = begin; i < end; ++i) {
    OXIDE_RETURN_IF_ERROR(writer_->Add(segments[i], writer_->Decide(segments[i], nullptr)));
  }
  return writer_->CloseChunk();
}

Result<std::string> EncodeCodedBody(std::string_view base, std::string_view target,
                                    const std::vector<Segment>& segments, int level,
                                    CodedChoice choice, const std::vector<RecordChoice>* known,
                                    CodedEncodeStats* stats) {
  CodedEncodeStats local;
  std::string body;
  CodedWriter writer(base, target, level, choice, stats ? stats : &local, &body);
  const bool use_known = known != nullptr && known->size() == segments.size();
  std::vector<CodedWriter::Decision> decisions;
  decisions.reserve(segments.size());
  bool any_coded = false;
  for (size_t i = 0; i < segments.size(); ++i) {
    decisions.push_back(writer.Decide(segments[i], use_known ? &(*known)[i] : nullptr));
    any_coded |= decisions.back().coded;
  }
  if (!any_coded && choice == CodedChoice::kAuto) {
    return Unsupported("no tensor is smaller coded than in a zstd record");
  }
  for (size_t i = 0; i < segments.size(); ++i) {
    OXIDE_RETURN_IF_ERROR(writer.Add(segments[i], decisions[i]));
  }
  OXIDE_RETURN_IF_ERROR(writer.Finish());
  return body;
}

}  // namespace oxide::delta::internal
