#include "delta/build/zstd_encoder.hpp"

#include <zstd.h>

#include <vector>

namespace oxide::delta::internal {

struct ZstdEncoder::Impl {
  ZSTD_CCtx* cctx = nullptr;
  std::string* out = nullptr;
  std::vector<char> buf;
  ~Impl() { ZSTD_freeCCtx(cctx); }
};

namespace {
Status Check(size_t rc, const char* what) {
  if (ZSTD_isError(rc)) return Internal(std::string(what) + ": " + ZSTD_getErrorName(rc));
  return Status::Ok();
}
}  // namespace

ZstdEncoder::ZstdEncoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ZstdEncoder::~ZstdEncoder() = default;

Result<std::unique_ptr<ZstdEncoder>> ZstdEncoder::Create(const ZstdParams& p,
                                                         std::string_view prefix,
                                                         std::string* out) {
  auto impl = std::make_unique<Impl>();
  impl->cctx = ZSTD_createCCtx();
  if (impl->cctx == nullptr) return ResourceExhausted("cannot allocate a zstd encoder");
  impl->out = out;
  impl->buf.resize(ZSTD_CStreamOutSize());
  ZSTD_CCtx* c = impl->cctx;
  OXIDE_RETURN_IF_ERROR(
      Check(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, p.level), "level"));
  OXIDE_RETURN_IF_ERROR(Check(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1), "checksum"));
  if (p.window_log > 0) {
    OXIDE_RETURN_IF_ERROR(Check(ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, p.window_log), "wlog"));
  }
  if (p.min_match > 0) {
    OXIDE_RETURN_IF_ERROR(Check(ZSTD_CCtx_setParameter(c, ZSTD_c_minMatch, p.min_match), "mm"));
  }
  if (p.long_distance) {
    OXIDE_RETURN_IF_ERROR(
        Check(ZSTD_CCtx_setParameter(c, ZSTD_c_enableLongDistanceMatching, 1), "ldm"));
  }
  if (p.workers > 0) {
    OXIDE_RETURN_IF_ERROR(Check(ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, p.workers), "workers"));
  }
  if (p.pledged_size > 0) {
    OXIDE_RETURN_IF_ERROR(Check(ZSTD_CCtx_setPledgedSrcSize(c, p.pledged_size), "pledged"));
  }
  if (!prefix.empty()) {
    OXIDE_RETURN_IF_ERROR(Check(ZSTD_CCtx_refPrefix(c, prefix.data(), prefix.size()), "prefix"));
  }
  return std::unique_ptr<ZstdEncoder>(new ZstdEncoder(std::move(impl)));
}

Status ZstdEncoder::Write(const void* data, size_t n) {
  ZSTD_inBuffer in{data, n, 0};
  while (in.pos < in.size) {
    ZSTD_outBuffer o{impl_->buf.data(), impl_->buf.size(), 0};
    OXIDE_RETURN_IF_ERROR(
        Check(ZSTD_compressStream2(impl_->cctx, &o, &in, ZSTD_e_continue), "compress"));
    impl_->out->append(impl_->buf.data(), o.pos);
  }
  return Status::Ok();
}

Status ZstdEncoder::Flush() {
  ZSTD_inBuffer in{nullptr, 0, 0};
  for (;;) {
    ZSTD_outBuffer o{impl_->buf.data(), impl_->buf.size(), 0};
    size_t left = ZSTD_compressStream2(impl_->cctx, &o, &in, ZSTD_e_flush);
    OXIDE_RETURN_IF_ERROR(Check(left, "flush"));
    impl_->out->append(impl_->buf.data(), o.pos);
    if (left == 0) return Status::Ok();
  }
}

Status ZstdEncoder::Finish() {
  ZSTD_inBuffer in{nullptr, 0, 0};
  for (;;) {
    ZSTD_outBuffer o{impl_->buf.data(), impl_->buf.size(), 0};
    size_t left = ZSTD_compressStream2(impl_->cctx, &o, &in, ZSTD_e_end);
    OXIDE_RETURN_IF_ERROR(Check(left, "finish"));
    impl_->out->append(impl_->buf.data(), o.pos);
    if (left == 0) return Status::Ok();
  }
}

Result<std::string> ZstdCompress(std::string_view data, const ZstdParams& params,
                                 std::string_view prefix) {
  std::string out;
  ZstdParams p = params;
  p.pledged_size = data.size();
  OXIDE_ASSIGN_OR_RETURN(auto enc, ZstdEncoder::Create(p, prefix, &out));
  OXIDE_RETURN_IF_ERROR(enc->Write(data.data(), data.size()));
  OXIDE_RETURN_IF_ERROR(enc->Finish());
  return out;
}

ZstdTrial::~ZstdTrial() { ZSTD_freeCCtx(cctx_); }

size_t ZstdTrial::Size(const void* data, size_t n, int level) {
  if (cctx_ == nullptr && (cctx_ = ZSTD_createCCtx()) == nullptr) return n;
  ZSTD_CCtx_reset(cctx_, ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_minMatch, 6);
  if (out_.size() < ZSTD_compressBound(n)) out_.resize(ZSTD_compressBound(n));
  size_t rc = ZSTD_compress2(cctx_, out_.data(), out_.size(), data, n);
  return ZSTD_isError(rc) ? n : rc;
}

size_t ZstdTrialSize(const void* data, size_t n, int level) {
  std::vector<char> out(ZSTD_compressBound(n));
  ZSTD_CCtx* c = ZSTD_createCCtx();
  if (c == nullptr) return n;
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(c, ZSTD_c_minMatch, 6);
  size_t rc = ZSTD_compress2(c, out.data(), out.size(), data, n);
  ZSTD_freeCCtx(c);
  return ZSTD_isError(rc) ? n : rc;
}

}  // namespace oxide::delta::internal
