#include "delta/build/tensor_stream.hpp"

#include <zstd.h>

#include <cstring>
#include <memory>
#include <string>

#include "delta/base_source.hpp"
#include "delta/build/zstd_encoder.hpp"
#include "delta/patch_format.hpp"
#include "delta/zstd_stream.hpp"

namespace oxide::delta::internal {

Status CompareWriter::Emit(const uint8_t* data, size_t n) {
  if (n > expect_.size() - pos_ || std::memcmp(expect_.data() + pos_, data, n) != 0) {
    return Internal("the encoded patch does not rebuild the target");
  }
  pos_ += n;
  return Status::Ok();
}

namespace {

// Decompresses the frame as it is produced and feeds the records to a TensorDecoder.
class FrameCheck {
 public:
  FrameCheck(std::string_view base, std::string_view target)
      : base_(BaseSource::FromMemory(base)),
        cmp_(target),
        records_(base_.get(), target.size(), &cmp_),
        dctx_(ZSTD_createDCtx()),
        out_(ZSTD_DStreamOutSize()) {}
  ~FrameCheck() { ZSTD_freeDCtx(dctx_); }
  FrameCheck(const FrameCheck&) = delete;
  FrameCheck& operator=(const FrameCheck&) = delete;

  Status Feed(std::string_view bytes) {
    if (dctx_ == nullptr) return ResourceExhausted("cannot allocate a zstd decoder");
    return DecompressFrame(
        dctx_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &out_, &done_,
        "own frame: bytes after its end",
        [&](const uint8_t* out, size_t len) { return records_.Consume(out, len); },
        [](size_t rc) { return Internal(std::string("own frame: ") + ZSTD_getErrorName(rc)); });
  }
  // Target bytes rebuilt and compared so far.
  uint64_t produced() const { return records_.produced(); }
  Status Finish() const {
    if (!done_ || !records_.done() || !cmp_.complete()) {
      return Internal("the encoded patch rebuilds less than the target");
    }
    return Status::Ok();
  }

 private:
  std::unique_ptr<BaseSource> base_;
  CompareWriter cmp_;
  TensorDecoder records_;
  ZSTD_DCtx* dctx_;
  std::vector<uint8_t> out_;
  bool done_ = false;
};

}  // namespace

Status EncodeTensorBodyStreamed(std::string_view base, std::string_view target,
                                const std::vector<Segment>& segments, int level,
                                const std::function<Status(std::string_view)>& write,
                                const std::function<void(const Segment&)>& done,
                                TensorEncodeStats* stats) {
  TensorEncodeStats local;
  TensorEncodeStats* st = stats ? stats : &local;
  std::string pending;  // compressed bytes not yet written
  ZstdParams params;    // as EncodeTensorBody: the same frame
  params.level = level;
  params.window_log = 23;
  params.min_match = 6;
  OXIDE_ASSIGN_OR_RETURN(auto enc, ZstdEncoder::Create(params, {}, &pending));
  RecordWriter writer(base, target);
  writer.set_encoder(enc.get());
  FrameCheck check(base, target);
  auto drain = [&]() -> Status {
    if (pending.empty()) return Status::Ok();
    OXIDE_RETURN_IF_ERROR(check.Feed(pending));
    OXIDE_RETURN_IF_ERROR(write(pending));
    pending.clear();
    return Status::Ok();
  };
  // A segment is released once the check has rebuilt it (zstd holds back up to a block of
  // input, so that can come a few segments later): releasing earlier would fault it back in.
  size_t checked = 0;
  auto release = [&](bool all) {
    for (; checked < segments.size(); ++checked) {
      const Segment& s = segments[checked];
      if (!all && check.produced() < s.target_offset + s.length) break;
      if (done) done(s);
    }
  };
  for (const auto& s : segments) {
    OXIDE_RETURN_IF_ERROR(writer.Emit(s, st));
    OXIDE_RETURN_IF_ERROR(drain());
    release(false);
  }
  const char end = static_cast<char>(format::Op::kEnd);
  OXIDE_RETURN_IF_ERROR(enc->Write(&end, 1));
  OXIDE_RETURN_IF_ERROR(enc->Finish());
  OXIDE_RETURN_IF_ERROR(drain());
  release(true);
  return check.Finish();
}

}  // namespace oxide::delta::internal
