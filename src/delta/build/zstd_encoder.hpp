#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"

struct ZSTD_CCtx_s;  // zstd.h stays out of the header

namespace oxide::delta::internal {

struct ZstdParams {
  int level = 19;
  int window_log = 0;          // 0: zstd's default for the level
  bool long_distance = false;  // LDM: finds matches far back in a large prefix
  int min_match = 0;           // 0: default; residual planes are mostly noise, where short
                               // matches cost more than the literals they replace
  int workers = 0;             // >= 1 is required for patch-from above level 15 (zstd #4093)
  uint64_t pledged_size = 0;   // 0: unknown
};

// Streaming zstd compressor appending one frame to `out` (with a content checksum).
class ZstdEncoder {
 public:
  // `prefix` (may be empty) is referenced, not copied: it must outlive the encoder.
  static Result<std::unique_ptr<ZstdEncoder>> Create(const ZstdParams& params,
                                                     std::string_view prefix, std::string* out);
  ~ZstdEncoder();
  ZstdEncoder(const ZstdEncoder&) = delete;
  ZstdEncoder& operator=(const ZstdEncoder&) = delete;

  Status Write(const void* data, size_t n);
  // Ends the current zstd block, so the next bytes get their own entropy tables.
  Status Flush();
  Status Finish();

 private:
  struct Impl;
  explicit ZstdEncoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One-shot convenience: a frame of `data` (optionally against `prefix`).
Result<std::string> ZstdCompress(std::string_view data, const ZstdParams& params,
                                 std::string_view prefix = {});
// Size of `data` compressed at a fast level; used to pick transforms.
size_t ZstdTrialSize(const void* data, size_t n, int level);

// ZstdTrialSize with a zstd context and output buffer kept between calls (the same sizes).
// Not thread-safe.
class ZstdTrial {
 public:
  ZstdTrial() = default;
  ~ZstdTrial();
  ZstdTrial(const ZstdTrial&) = delete;
  ZstdTrial& operator=(const ZstdTrial&) = delete;
  size_t Size(const void* data, size_t n, int level);

 private:
  ZSTD_CCtx_s* cctx_ = nullptr;
  std::string out_;
};

}  // namespace oxide::delta::internal
