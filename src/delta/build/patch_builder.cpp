#include "delta/build/patch_builder.hpp"

#include <algorithm>
#include <thread>
#include <vector>

#include "base/file_util.hpp"
#include "delta/build/coded_encoder.hpp"
#include "delta/build/parallel_coded.hpp"
#include "delta/build/tensor_encoder.hpp"
#include "delta/build/tensor_plan.hpp"
#include "delta/build/tensor_stream.hpp"
#include "delta/build/zstd_encoder.hpp"
#include "delta/patch_applier.hpp"
#include "tensor/tensor_index.hpp"

namespace oxide::delta {

namespace {

using internal::ZstdParams;

// Above this size the slow, strong zstd levels cost more time than they save bytes.
constexpr uint64_t kStrongLevelLimit = 64ull << 20;

int WindowLogFor(uint64_t bytes) {
  int log = 10;
  while (log < 31 && (uint64_t{1} << log) < bytes) ++log;
  return log;
}

struct Candidate {
  Strategy strategy;
  std::string body;
  Status status;
};

// The tensor plan shared by the tensor and coded-tensor candidates. An empty base is a model
// of the target's format with no tensors: every tensor becomes a literal (first install).
Result<std::vector<internal::Segment>> PlanTensors(std::string_view base, std::string_view target,
                                                   const internal::ReleaseFn& release = {}) {
  auto tf = tensor::DetectFormat(target);
  auto bf = base.empty() ? tf : tensor::DetectFormat(base);
  if (tf == tensor::ModelFormat::kUnknown || tf != bf) {
    return Unsupported("tensor strategy needs both files in the same known format");
  }
  tensor::TensorIndex empty;
  empty.format = tf;
  auto bi =
      base.empty() ? Result<tensor::TensorIndex>(std::move(empty)) : tensor::IndexModel(base, bf);
  auto ti = tensor::IndexModel(target, tf);
  if (!bi.ok() || !ti.ok())
    return (bi.ok() ? ti.status() : bi.status()).WithContext("tensor index");
  internal::PlanStats ps;
  return internal::PlanTensorPatch(base, *bi, target, *ti, &ps, release);
}

int TensorLevel(std::string_view target, const DiffOptions& opt) {
  return opt.level > 0 ? opt.level : (target.size() <= kStrongLevelLimit ? 19 : 6);
}

Candidate BuildTensor(std::string_view base, std::string_view target,
                      const std::vector<internal::Segment>& segments, uint64_t* size_out,
                      const DiffOptions& opt, internal::TensorEncodeStats* es) {
  Candidate c{Strategy::kTensor, {}, {}};
  auto body = internal::EncodeTensorBody(base, target, segments, TensorLevel(target, opt), es);
  if (!body.ok()) {
    c.status = body.status();
    return c;
  }
  c.body = std::move(*body);
  *size_out = c.body.size() + kPatchHeaderSize;
  return c;
}

// The coded-tensor candidate (version 3). Not kept when no tensor chose the codec: its body
// would then be the tensor candidate's records in one more wrapper.
Candidate BuildCoded(std::string_view base, std::string_view target,
                     const std::vector<internal::Segment>& segments,
                     const internal::TensorEncodeStats& es, uint64_t* size_out,
                     const DiffOptions& opt) {
  Candidate c{Strategy::kCodedTensor, {}, {}};
  internal::CodedEncodeStats cs;
  auto body = internal::EncodeCodedBody(base, target, segments, TensorLevel(target, opt),
                                        internal::CodedChoice::kAuto, &es.choices, &cs);
  if (!body.ok()) {
    c.status = body.status();
    return c;
  }
  c.body = std::move(*body);
  *size_out = c.body.size() + kPatchHeaderSize;
  return c;
}

// Both tensor-aware candidates from one plan.
void BuildTensorAware(std::string_view base, std::string_view target, const DiffOptions& opt,
                      DiffResult* result, internal::TensorEncodeStats* es, Candidate* tensor_c,
                      Candidate* coded_c) {
  auto segments = PlanTensors(base, target);
  if (!segments.ok()) {
    tensor_c->status = segments.status();
    return;
  }
  *tensor_c = BuildTensor(base, target, *segments, &result->tensor_candidate, opt, es);
  if (opt.max_patch_version >= 3) {
    *coded_c = BuildCoded(base, target, *segments, *es, &result->coded_candidate, opt);
  }
}

Candidate BuildBinary(std::string_view base, std::string_view target, uint64_t* size_out,
                      const DiffOptions& opt) {
  Candidate c{Strategy::kBinary, {}, {}};
  if (base.size() + target.size() > (uint64_t{1} << 31)) {
    c.status = Unsupported("binary strategy is limited to 2 GiB of base + target");
    return c;
  }
  ZstdParams p;
  bool strong = target.size() <= kStrongLevelLimit;
  p.level = opt.level > 0 ? opt.level : (strong ? 19 : 3);
  p.window_log = std::max(WindowLogFor(base.size() + target.size()), 17);
  p.long_distance = true;
  p.workers = p.level >= 16 ? 1 : 0;  // single-threaded high levels lose the prefix (zstd #4093)
  auto body = internal::ZstdCompress(target, p, base);
  if (!body.ok()) {
    c.status = body.status();
    return c;
  }
  c.body = std::move(*body);
  *size_out = c.body.size() + kPatchHeaderSize;
  return c;
}

Candidate BuildFull(std::string_view target, uint64_t* size_out, const DiffOptions& opt) {
  Candidate c{Strategy::kFull, {}, {}};
  ZstdParams p;
  p.level = opt.level > 0 ? opt.level : (target.size() <= kStrongLevelLimit ? 19 : 3);
  p.workers = target.size() > (8u << 20) ? 1 : 0;
  auto body = internal::ZstdCompress(target, p);
  if (!body.ok()) {
    c.status = body.status();
    return c;
  }
  c.body = std::move(*body);
  *size_out = c.body.size() + kPatchHeaderSize;
  return c;
}

class HashSink final : public ByteSink {
 public:
  Status Write(const uint8_t*, size_t) override { return Status::Ok(); }
};

// Applies `patch` to `base` and checks the target digest (the applier itself compares it).
Status Verify(std::string_view base, const std::string& patch) {
  auto src = BaseSource::FromMemory(base);
  HashSink sink;
  ApplyLimits limits;
  limits.base_verified = true;
  auto applier = PatchApplier::Create(src.get(), &sink, limits);
  OXIDE_RETURN_IF_ERROR(
      applier->Feed(reinterpret_cast<const uint8_t*>(patch.data()), patch.size()));
  return applier->Finish().status();
}

}  // namespace

Result<DiffResult> BuildPatch(std::string_view base, std::string_view target,
                              const DiffOptions& options) {
  DiffResult result;
  PatchHeader h;
  h.base_size = base.size();
  h.target_size = target.size();
  h.format_hint = static_cast<uint8_t>(tensor::DetectFormat(target));
  {
    std::thread hasher([&] { h.base_sha256 = Sha256::Of(base.data(), base.size()); });
    h.target_sha256 = Sha256::Of(target.data(), target.size());
    hasher.join();
  }

  std::vector<Candidate> cands;
  Candidate tensor_c{Strategy::kTensor, {}, Unsupported("not tried")};
  Candidate coded_c{Strategy::kCodedTensor, {}, Unsupported("not tried")};
  Candidate binary_c{Strategy::kBinary, {}, Unsupported("not tried")};
  bool binary = options.try_binary && !base.empty();
  internal::TensorEncodeStats es;
  if (target.size() <= kStrongLevelLimit || !options.try_tensor) {
    // Small models: build both candidates side by side; the binary one is cheap here.
    std::thread worker;
    if (binary && options.threads > 1) {
      worker = std::thread(
          [&] { binary_c = BuildBinary(base, target, &result.binary_candidate, options); });
    }
    if (options.try_tensor) {
      BuildTensorAware(base, target, options, &result, &es, &tensor_c, &coded_c);
    }
    if (worker.joinable()) {
      worker.join();
    } else if (binary) {
      binary_c = BuildBinary(base, target, &result.binary_candidate, options);
    }
  } else {
    // Large models: the whole-file candidate costs seconds per GB. It can only win where the
    // tensor plan had to ship bytes it could not relate to the base (new or unmatched tensors,
    // changed framing), so it is built only when those exceed 1% of the target.
    BuildTensorAware(base, target, options, &result, &es, &tensor_c, &coded_c);
    bool explained = tensor_c.status.ok() && es.literal_bytes * 100 <= target.size();
    if (binary && !explained) {
      binary_c = BuildBinary(base, target, &result.binary_candidate, options);
    }
  }
  if (tensor_c.status.ok()) cands.push_back(std::move(tensor_c));
  if (coded_c.status.ok()) cands.push_back(std::move(coded_c));
  if (binary_c.status.ok()) cands.push_back(std::move(binary_c));
  // A full file only wins when no base-aware candidate got below half the target: zstd with the
  // base as prefix is never meaningfully larger than zstd without it.
  uint64_t best = target.size();
  for (const auto& c : cands) best = std::min<uint64_t>(best, c.body.size());
  if (options.try_full && (cands.empty() || best * 2 > target.size())) {
    Candidate full = BuildFull(target, &result.full_candidate, options);
    if (!full.status.ok()) return full.status;
    cands.push_back(std::move(full));
  }
  if (cands.empty()) return InvalidArgument("no patch strategy is enabled");
  std::stable_sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
    return a.body.size() < b.body.size();
  });
  Status last = Internal("no candidate");
  for (auto& c : cands) {
    h.strategy = c.strategy;
    h.body_size = c.body.size();
    std::string patch = EncodePatchHeader(h);
    patch += c.body;
    last = Verify(base, patch);
    if (last.ok()) {
      result.header = h;
      result.patch = std::move(patch);
      result.patch_size = result.patch.size();
      return result;
    }
  }
  return Internal("no candidate patch rebuilt the target: " + last.ToString());
}

namespace {

// SHA-256 of a mapped file, dropping each range from memory once it is hashed.
Digest HashReleasing(const MappedFile& f) {
  constexpr uint64_t kStep = uint64_t{16} << 20;
  Sha256 h;
  for (uint64_t off = 0; off < f.size(); off += kStep) {
    const uint64_t n = std::min<uint64_t>(kStep, f.size() - off);
    h.Update(f.data() + off, n);
    f.Release(off, n);
  }
  return h.Finish();
}

// The streamed build of a large model (DiffOptions::stream_above): the coded-tensor body on
// several threads, or, with max_patch_version 2, the tensor candidate's body exactly as the
// in-memory build would keep it. kUnsupported: this pair is better served by the in-memory
// build (the caller falls back to it).
Result<DiffResult> BuildStreamed(const MappedFile* base, const MappedFile& target,
                                 const std::string& out_path, const DiffOptions& opt) {
  const std::string_view bv = base != nullptr ? base->view() : std::string_view();
  const std::string_view tv = target.view();
  // Planning compares identical tensors in full: each compared range is dropped again.
  auto release = [&](const char* p, uint64_t n) {
    if (p >= tv.data() && p < tv.data() + tv.size()) {
      target.Release(static_cast<uint64_t>(p - tv.data()), n);
    } else if (base != nullptr && p >= bv.data() && p < bv.data() + bv.size()) {
      base->Release(static_cast<uint64_t>(p - bv.data()), n);
    }
  };
  auto segments = PlanTensors(bv, tv, release);
  if (!segments.ok()) return Unsupported("no tensor plan: " + segments.status().ToString());
  uint64_t literal = 0;
  for (const auto& s : *segments) {
    if (s.kind == internal::Segment::Kind::kLiteral) literal += s.length;
  }
  if (opt.try_binary && !bv.empty() && literal * 100 > tv.size()) {
    return Unsupported("over 1 % of the target is not explained by the tensor plan");
  }
  // Planning touched whatever it compared; from here every range is dropped once it is used.
  if (base != nullptr) base->Release(0, base->size());
  target.Release(0, target.size());

  const bool coded = opt.max_patch_version >= 3;
  PatchHeader h;
  h.strategy = coded ? Strategy::kCodedTensor : Strategy::kTensor;
  h.base_size = bv.size();
  h.target_size = tv.size();
  h.format_hint = static_cast<uint8_t>(tensor::DetectFormat(tv));
  {
    std::thread hasher([&] { h.base_sha256 = base ? HashReleasing(*base) : Sha256::Of("", 0); });
    h.target_sha256 = HashReleasing(target);
    hasher.join();
  }
  OXIDE_ASSIGN_OR_RETURN(auto out, AtomicFileWriter::Create(out_path));
  const std::string placeholder(kPatchHeaderSize, '\0');  // the header goes last: it has the size
  OXIDE_RETURN_IF_ERROR(out->Append(placeholder));
  uint64_t body = 0;
  auto write = [&](std::string_view bytes) {
    body += bytes.size();
    return out->Append(bytes.data(), bytes.size());
  };
  auto done = [&](const internal::Segment& s) {
    target.Release(s.target_offset, s.length);
    if (base != nullptr && s.kind != internal::Segment::Kind::kLiteral) {
      base->Release(s.base_offset, s.length);
    }
  };
  if (coded) {
    internal::ParallelCodedOptions po;
    po.threads = std::max(1, opt.threads);
    // Level 3: on residual planes levels 5-6 are three times slower for the same size.
    po.level = opt.level > 0 ? opt.level : 3;
    internal::CodedEncodeStats cs;
    OXIDE_RETURN_IF_ERROR(
        internal::EncodeCodedBodyParallel(bv, tv, *segments, po, write, done, &cs));
  } else {
    // Version 2 (agents that read only v2): the tensor candidate's very bytes, one thread.
    internal::TensorEncodeStats ts;
    OXIDE_RETURN_IF_ERROR(internal::EncodeTensorBodyStreamed(
        bv, tv, *segments, TensorLevel(tv, opt), write, done, &ts));
    // As the in-memory build: the binary candidate is built when over 1 % went out as literals.
    if (opt.try_binary && !bv.empty() && ts.literal_bytes * 100 > tv.size()) {
      return Unsupported("over 1 % of the target went out as literals");
    }
  }
  // The in-memory build would keep the full-file candidate here (version-2 rule: built only when
  // no base-aware candidate got below half the target): fall back to it.
  if (opt.try_full && (coded ? body >= tv.size() : body * 2 > tv.size())) {
    return Unsupported("the tensor-aware body is not small enough to skip the full candidate");
  }
  h.body_size = body;
  const std::string header = EncodePatchHeader(h);
  OXIDE_RETURN_IF_ERROR(out->WriteAt(0, header.data(), header.size()));
  OXIDE_RETURN_IF_ERROR(out->Commit());
  DiffResult r;
  r.header = h;
  r.patch_size = header.size() + body;
  (coded ? r.coded_candidate : r.tensor_candidate) = r.patch_size;
  return r;
}

}  // namespace

Result<DiffResult> BuildPatchFile(const std::string& base_path, const std::string& target_path,
                                  const std::string& out_path, const DiffOptions& options) {
  std::unique_ptr<MappedFile> base;
  if (!base_path.empty()) {
    OXIDE_ASSIGN_OR_RETURN(base, MappedFile::Open(base_path));
  }
  OXIDE_ASSIGN_OR_RETURN(auto target, MappedFile::Open(target_path));
  if (target->size() > options.stream_above && options.try_tensor) {
    auto r = BuildStreamed(base.get(), *target, out_path, options);
    if (r.ok() || r.status().code() != ErrorCode::kUnsupported) return r;
  }
  OXIDE_ASSIGN_OR_RETURN(
      auto result, BuildPatch(base ? base->view() : std::string_view(), target->view(), options));
  OXIDE_RETURN_IF_ERROR(AtomicWriteFile(out_path, result.patch));
  return result;
}

}  // namespace oxide::delta
