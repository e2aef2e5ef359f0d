#include "codec/zstd_planes.hpp"

#include <zstd.h>

#include <cstring>
#include <vector>

#include "codec/scratch.hpp"

namespace oxide::codec::internal {

namespace {

// out[k * elems + i] = in[i * width + k]; the tail follows. (delta/transform.hpp has the same
// layout for patch v2, but the codec sits below oxide_delta and cannot link it.)
void ToPlanes(const uint8_t* in, uint8_t* out, size_t n, unsigned width) {
  size_t elems = n / width;
  for (unsigned k = 0; k < width; ++k) {
    uint8_t* plane = out + k * elems;
    for (size_t i = 0; i < elems; ++i) plane[i] = in[i * width + k];
  }
  std::memcpy(out + elems * width, in + elems * width, n - elems * width);
}

void FromPlanes(const uint8_t* in, uint8_t* out, size_t n, unsigned width) {
  size_t elems = n / width;
  for (unsigned k = 0; k < width; ++k) {
    const uint8_t* plane = in + k * elems;
    for (size_t i = 0; i < elems; ++i) out[i * width + k] = plane[i];
  }
  std::memcpy(out + elems * width, in + elems * width, n - elems * width);
}

}  // namespace

Scratch::~Scratch() {
  ZSTD_freeCCtx(cctx);
  ZSTD_freeDCtx(dctx);
}

bool EncodeZstdPlanes(const uint8_t* data, size_t n, unsigned width, int level, std::string* out,
                      Scratch* s) {
  if (s == nullptr) {
    Scratch local;
    return EncodeZstdPlanes(data, n, width, level, out, &local);
  }
  if (s->cctx == nullptr && (s->cctx = ZSTD_createCCtx()) == nullptr) return false;
  uint8_t* planes = Grow(&s->planes, n);
  if (n != 0) ToPlanes(data, planes, n, width);
  char* frame = Grow(&s->frame, ZSTD_compressBound(n));
  // ZSTD_compressCCtx takes its parameters from `level` alone: the frame is ZSTD_compress's.
  size_t got = ZSTD_compressCCtx(s->cctx, frame, ZSTD_compressBound(n), planes, n, level);
  if (ZSTD_isError(got)) return false;
  out->append(frame, got);
  return true;
}

Status DecodeZstdPlanes(const uint8_t* p, const uint8_t* end, unsigned width, uint8_t* data,
                        size_t n, Scratch* s) {
  if (s == nullptr) {
    Scratch local;
    return DecodeZstdPlanes(p, end, width, data, n, &local);
  }
  size_t len = static_cast<size_t>(end - p);
  unsigned long long content = ZSTD_getFrameContentSize(p, len);
  if (content != n) return Corrupt("zstd block: frame size does not match the block");
  size_t frame = ZSTD_findFrameCompressedSize(p, len);
  if (ZSTD_isError(frame) || frame != len) return Corrupt("zstd block: not exactly one frame");
  if (s->dctx == nullptr && (s->dctx = ZSTD_createDCtx()) == nullptr) {
    return ResourceExhausted("zstd block: cannot allocate a decoder");
  }
  uint8_t* planes = Grow(&s->planes, n);
  size_t got = ZSTD_decompressDCtx(s->dctx, planes, n, p, len);
  if (ZSTD_isError(got) || got != n) return Corrupt("zstd block: bad frame");
  if (n != 0) FromPlanes(planes, data, n, width);
  return Status::Ok();
}

}  // namespace oxide::codec::internal
