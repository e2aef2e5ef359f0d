#include "delta/patch_applier.hpp"

#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <vector>

#include "base/file_util.hpp"
#include "base/sha256_pipeline.hpp"
#include "delta/coded_decoder.hpp"
#include "delta/tensor_decoder.hpp"
#include "delta/zstd_stream.hpp"

namespace oxide::delta {

namespace {

struct DCtxDeleter {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};
using DCtxPtr = std::unique_ptr<ZSTD_DCtx, DCtxDeleter>;

// Hashes and counts target bytes on their way to the caller's sink. The hash runs on a second
// thread (PipelinedSha256): at a gigabyte a second of decoding, hashing inline was a quarter of
// a first install's apply time.
class CountingWriter final : public internal::TargetWriter {
 public:
  CountingWriter(ByteSink* sink, uint64_t limit) : sink_(sink), limit_(limit) {}
  Status Emit(const uint8_t* data, size_t n) override {
    if (n > limit_ - written_) return Corrupt("patch produces more bytes than the target size");
    hash_.Update(data, n);
    written_ += n;
    return sink_->Write(data, n);
  }
  uint64_t written() const { return written_; }
  Digest Finish() { return hash_.Finish(); }

 private:
  ByteSink* sink_;
  uint64_t limit_;
  uint64_t written_ = 0;
  PipelinedSha256 hash_;
};

int WindowLogFor(uint64_t bytes) {
  int log = 10;
  while (log < 31 && (uint64_t{1} << log) < bytes) ++log;
  return log;
}

class Applier final : public PatchApplier {
 public:
  Applier(BaseSource* base, ByteSink* sink, ApplyLimits limits)
      : base_(base), sink_(sink), limits_(limits) {}

  ~Applier() override {
    if (base_check_.valid()) base_check_.wait();
  }

  Status Feed(const uint8_t* data, size_t n) override {
    if (!error_.ok()) return error_;
    error_ = FeedImpl(data, n);
    if (!error_.ok()) error_ = PreferBaseError(std::move(error_));
    return error_;
  }

  Result<Digest> Finish() override {
    if (!error_.ok()) return error_;
    error_ = PreferBaseError(FinishImpl());
    if (!error_.ok()) return error_;
    return writer_->Finish() == header_.target_sha256 ? Result<Digest>(header_.target_sha256)
                                                      : Result<Digest>(TargetMismatch());
  }

  const PatchHeader* header() const override { return have_header_ ? &header_ : nullptr; }

 private:
  Status TargetMismatch() {
    error_ = Corrupt("rebuilt target does not match its SHA-256");
    return error_;
  }

  Status FeedImpl(const uint8_t* data, size_t n) {
    if (!have_header_) {
      size_t take = std::min(n, kPatchHeaderSize - header_buf_.size());
      header_buf_.append(reinterpret_cast<const char*>(data), take);
      data += take;
      n -= take;
      // A short prefix can already be rejected (wrong magic/version) before 100 bytes arrive.
      if (header_buf_.size() < kPatchHeaderSize) {
        if (header_buf_.size() >= 5) {
          auto h = ParsePatchHeader(header_buf_);
          if (!h.ok() && h.status().code() != ErrorCode::kCorrupt) return h.status();
        }
        return Status::Ok();
      }
      OXIDE_RETURN_IF_ERROR(Start());
    }
    if (n > header_.body_size - body_seen_) {
      return Corrupt("patch is longer than its header says");
    }
    body_seen_ += n;
    if (coded_) return coded_->Consume(data, n);
    if (frame_start_.size() < kFrameStartBytes) {
      // Held back until checked, so zstd's own error for a bad frame never comes first.
      size_t take = std::min(n, kFrameStartBytes - frame_start_.size());
      frame_start_.append(reinterpret_cast<const char*>(data), take);
      data += take;
      n -= take;
      if (frame_start_.size() < kFrameStartBytes) return Status::Ok();
      OXIDE_RETURN_IF_ERROR(CheckFrameStart());
      OXIDE_RETURN_IF_ERROR(
          Decompress(reinterpret_cast<const uint8_t*>(frame_start_.data()), kFrameStartBytes));
    }
    return Decompress(data, n);
  }

  // The body must be one standard zstd frame whose header sets the content checksum flag
  // (docs/format/patch-v2.md §2); the first 5 body bytes (magic + frame header descriptor)
  // show both.
  Status CheckFrameStart() const {
    return internal::CheckZstdFrameStart(reinterpret_cast<const uint8_t*>(frame_start_.data()));
  }

  Status Start() {
    OXIDE_ASSIGN_OR_RETURN(header_, ParsePatchHeader(header_buf_));
    have_header_ = true;
    if (header_.strategy != Strategy::kFull) {
      if (base_->size() != header_.base_size) {
        return FailedPrecondition("base is " + std::to_string(base_->size()) +
                                  " bytes, the patch expects " + std::to_string(header_.base_size));
      }
      // The base is hashed on a second thread while the patch is applied: a wrong base is
      // reported (as kFailedPrecondition) before any result or other error is returned, and the
      // output is only ever committed after Finish().
      if (!limits_.base_verified) {
        base_check_ = std::async(std::launch::async, [this] { return VerifyBase(); });
      }
    }
    writer_ = std::make_unique<CountingWriter>(sink_, header_.target_size);
    if (header_.strategy == Strategy::kCodedTensor) {
      // Version 3: a chunk sequence, not one zstd frame (docs/format/patch-v3.md).
      coded_ = std::make_unique<internal::CodedBodyDecoder>(
          base_, header_.target_size, writer_.get(), limits_.max_window_bytes);
      return Status::Ok();
    }
    dctx_.reset(ZSTD_createDCtx());
    if (!dctx_) return ResourceExhausted("cannot allocate a zstd decoder");
    int max_log = WindowLogFor(limits_.max_window_bytes);
    if ((uint64_t{1} << max_log) > limits_.max_window_bytes) --max_log;
    ZSTD_DCtx_setParameter(dctx_.get(), ZSTD_d_windowLogMax, std::max(max_log, 10));
    if (header_.strategy == Strategy::kBinary) {
      // The whole base is the zstd prefix, inside the window the frame declares (the builder sizes
      // it for base + target), so zstd would refuse a base over the limit anyway. Refused here,
      // before View(): an encrypted base decrypts the whole model into memory there.
      if (base_->size() > limits_.max_window_bytes) {
        return ResourceExhausted("patch needs a larger decoder window than allowed: the " +
                                 std::to_string(base_->size()) + "-byte base is its prefix");
      }
      OXIDE_ASSIGN_OR_RETURN(std::string_view view, base_->View());
      size_t rc = ZSTD_DCtx_refPrefix(dctx_.get(), view.data(), view.size());
      if (ZSTD_isError(rc)) return Internal(ZSTD_getErrorName(rc));
    }
    if (header_.strategy == Strategy::kTensor) {
      tensor_ =
          std::make_unique<internal::TensorDecoder>(base_, header_.target_size, writer_.get());
    }
    out_buf_.resize(ZSTD_DStreamOutSize());
    return Status::Ok();
  }

  // Any outcome is overridden by a base mismatch: the caller must learn the base was wrong.
  Status PreferBaseError(Status s) {
    if (base_check_.valid()) {
      Status base = base_check_.get();
      if (!base.ok()) return base;
    }
    return s;
  }

  Status VerifyBase() const {
    Sha256 h;
    std::vector<uint8_t> buf(1 << 20);
    for (uint64_t off = 0; off < base_->size();) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), base_->size() - off));
      OXIDE_RETURN_IF_ERROR(base_->ReadAt(off, buf.data(), n));
      h.Update(buf.data(), n);
      off += n;
    }
    // Finish() once: a second call would hash nothing and report the digest of empty input.
    const Digest got = h.Finish();
    if (got != header_.base_sha256) {
      return FailedPrecondition("base SHA-256 " + ToHex(got) + " does not match the patch's base " +
                                ToHex(header_.base_sha256));
    }
    return Status::Ok();
  }

  Status Decompress(const uint8_t* data, size_t n) {
    return internal::DecompressFrame(
        dctx_.get(), data, n, &out_buf_, &frame_done_, "bytes after the end of the compressed body",
        [&](const uint8_t* out, size_t len) { return Deliver(out, len); },
        [](size_t rc) {
          if (ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge) {
            return ResourceExhausted("patch needs a larger decoder window than allowed");
          }
          return Corrupt(std::string("compressed body: ") + ZSTD_getErrorName(rc));
        });
  }

  Status Deliver(const uint8_t* data, size_t n) {
    if (tensor_) return tensor_->Consume(data, n);
    return writer_->Emit(data, n);
  }

  Status FinishImpl() {
    if (!have_header_) return Corrupt("patch is shorter than its header");
    if (body_seen_ != header_.body_size) {
      return Corrupt("patch is truncated: " + std::to_string(body_seen_) + " of " +
                     std::to_string(header_.body_size) + " body bytes");
    }
    if (coded_) OXIDE_RETURN_IF_ERROR(coded_->Finish());
    if (!coded_ && !frame_done_) return Corrupt("compressed body is truncated");
    if (tensor_ && !tensor_->done()) return Corrupt("instruction stream has no END record");
    if (writer_->written() != header_.target_size) {
      return Corrupt("patch rebuilt " + std::to_string(writer_->written()) + " of " +
                     std::to_string(header_.target_size) + " target bytes");
    }
    return Status::Ok();
  }

  BaseSource* base_;
  ByteSink* sink_;
  ApplyLimits limits_;
  Status error_;

  std::string header_buf_;
  bool have_header_ = false;
  PatchHeader header_;
  uint64_t body_seen_ = 0;
  static constexpr size_t kFrameStartBytes = internal::kZstdFrameStartBytes;
  std::string frame_start_;  // the first kFrameStartBytes body bytes

  DCtxPtr dctx_;
  bool frame_done_ = false;
  std::vector<uint8_t> out_buf_;
  std::unique_ptr<CountingWriter> writer_;
  std::unique_ptr<internal::TensorDecoder> tensor_;
  std::unique_ptr<internal::CodedBodyDecoder> coded_;
  std::future<Status> base_check_;
};

class FileSink final : public ByteSink {
 public:
  explicit FileSink(AtomicFileWriter* w) : w_(w) {}
  Status Write(const uint8_t* data, size_t n) override { return w_->Append(data, n); }

 private:
  AtomicFileWriter* w_;
};

}  // namespace

std::unique_ptr<PatchApplier> PatchApplier::Create(BaseSource* base, ByteSink* sink,
                                                   ApplyLimits limits) {
  return std::make_unique<Applier>(base, sink, limits);
}

Result<ApplyStats> ApplyPatchFile(const std::string& base_path, const std::string& patch_path,
                                  const std::string& out_path, ApplyLimits limits) {
  std::unique_ptr<BaseSource> base;
  if (base_path.empty()) {
    base = BaseSource::Empty();
  } else {
    OXIDE_ASSIGN_OR_RETURN(base, BaseSource::FromFile(base_path));
  }
  OXIDE_ASSIGN_OR_RETURN(auto patch, ReadableFile::Open(patch_path));
  OXIDE_ASSIGN_OR_RETURN(auto out, AtomicFileWriter::Create(out_path));
  FileSink sink(out.get());
  auto applier = PatchApplier::Create(base.get(), &sink, limits);
  std::vector<uint8_t> buf(1 << 20);
  uint64_t off = 0;
  for (;;) {
    OXIDE_ASSIGN_OR_RETURN(size_t n, patch->ReadAt(off, buf.data(), buf.size()));
    if (n == 0) break;
    OXIDE_RETURN_IF_ERROR(applier->Feed(buf.data(), n));
    off += n;
  }
  OXIDE_RETURN_IF_ERROR(applier->Finish().status());
  OXIDE_RETURN_IF_ERROR(out->Commit());
  return ApplyStats{*applier->header(), off};
}

}  // namespace oxide::delta
