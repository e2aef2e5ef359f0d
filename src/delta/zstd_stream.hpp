#pragma once

// The streaming-decompression loop shared by every reader of a zstd frame in a patch (the
// version-2 body, the ZSTD chunks of version 3, the builder's own check of what it writes).

#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/status.hpp"

namespace oxide::delta::internal {

// Runs [data, data + n) through `dctx`, handing each piece of output to deliver(ptr, len)
// (a Status), with `buf` (non-empty) as the output buffer. Sets *frame_done once the frame has
// ended; input left after that end is kCorrupt with the message `after_end`, as is any input fed
// once it was set. A failed zstd call returns on_error(code), the code ZSTD_decompressStream gave.
template <class Deliver, class OnError>
Status DecompressFrame(ZSTD_DCtx* dctx, const uint8_t* data, size_t n, std::vector<uint8_t>* buf,
                       bool* frame_done, const char* after_end, Deliver&& deliver,
                       OnError&& on_error) {
  ZSTD_inBuffer in{data, n, 0};
  bool pending = false;  // the output buffer filled up: zstd may hold more
  while (in.pos < in.size || pending) {
    if (*frame_done) return Corrupt(after_end);
    ZSTD_outBuffer out{buf->data(), buf->size(), 0};
    size_t rc = ZSTD_decompressStream(dctx, &out, &in);
    if (ZSTD_isError(rc)) return on_error(rc);
    pending = out.pos == out.size;
    if (rc == 0) {
      *frame_done = true;
      pending = false;
    }
    if (out.pos > 0) OXIDE_RETURN_IF_ERROR(deliver(buf->data(), out.pos));
    if (out.pos == 0 && in.pos == in.size) break;
  }
  return Status::Ok();
}

}  // namespace oxide::delta::internal
