#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "delta/build/tensor_encoder.hpp"
#include "delta/build/tensor_plan.hpp"
#include "delta/tensor_decoder.hpp"

namespace oxide::delta::internal {

// Compares what a decoder rebuilds with `expect`, in order (the builder's own check).
class CompareWriter final : public TargetWriter {
 public:
  explicit CompareWriter(std::string_view expect) : expect_(expect) {}
  // kInternal at the first byte that differs or goes past `expect`.
  Status Emit(const uint8_t* data, size_t n) override;
  bool complete() const { return pos_ == expect_.size(); }

 private:
  std::string_view expect_;
  size_t pos_ = 0;
};

// The tensor strategy's body (patch-v2.md: one zstd frame of records) as a stream: the same
// bytes EncodeTensorBody returns, passed to `write` in pieces as zstd produces them, so memory
// is bounded by zstd's window and the record buffers instead of the patch size. The frame is
// decompressed and its records applied as it is written, and the result compared with the
// target (kInternal on any difference). `done(segment)` is called, in order, once a segment
// was encoded and checked (its input pages may be released). The version-2 streamed build of large
// models (DiffOptions::stream_above with max_patch_version 2: the server's builder).
Status EncodeTensorBodyStreamed(std::string_view base, std::string_view target,
                                const std::vector<Segment>& segments, int level,
                                const std::function<Status(std::string_view)>& write,
                                const std::function<void(const Segment&)>& done,
                                TensorEncodeStats* stats);

}  // namespace oxide::delta::internal
