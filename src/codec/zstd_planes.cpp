#include "codec/zstd_planes.hpp"

#include <zstd.h>

#include <cstring>
#include <vector>

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

bool EncodeZstdPlanes(const uint8_t* data, size_t n, unsigned width, int level, std::string* out) {
  std::vector<uint8_t> planes(n);
  if (n != 0) ToPlanes(data, planes.data(), n, width);
  size_t at = out->size();
  out->resize(at + ZSTD_compressBound(n));
  size_t got = ZSTD_compress(out->data() + at, out->size() - at, planes.data(), n, level);
  out->resize(ZSTD_isError(got) ? at : at + got);
  return !ZSTD_isError(got);
}

Status DecodeZstdPlanes(const uint8_t* p, const uint8_t* end, unsigned width, uint8_t* data,
                        size_t n) {
  size_t len = static_cast<size_t>(end - p);
  unsigned long long content = ZSTD_getFrameContentSize(p, len);
  if (content != n) return Corrupt("zstd block: frame size does not match the block");
  size_t frame = ZSTD_findFrameCompressedSize(p, len);
  if (ZSTD_isError(frame) || frame != len) return Corrupt("zstd block: not exactly one frame");
  std::vector<uint8_t> planes(n);
  size_t got = ZSTD_decompress(planes.data(), n, p, len);
  if (ZSTD_isError(got) || got != n) return Corrupt("zstd block: bad frame");
  if (n != 0) FromPlanes(planes.data(), data, n, width);
  return Status::Ok();
}

}  // namespace oxide::codec::internal
