#pragma once

#include <cstdint>
#include <string_view>

#include "base/status.hpp"

namespace oxide::server {

// Models larger than this are not handed to libonnx: protobuf parses messages of at most 2 GiB
// (its sizes are `int`). Such files are still indexed and their signature read by the
// bounds-checked wire walker; only the checker and shape inference are skipped.
constexpr uint64_t kMaxOnnxValidationBytes = (uint64_t{1} << 31) - 1;

// Validates an ONNX model held in memory (the mapped upload) with the official ONNX library
// (onnx::checker::check_model, then strict shape inference with type checks: what
// `onnx.checker.check_model(m, full_check=True)` does). Tensors with external data are checked as
// declared (their files are not uploaded, so they are neither read nor required). Server side only:
// the agent never links libonnx.
//  - OK when valid, or when the model is larger than kMaxOnnxValidationBytes (`*skipped` = true).
//  - kInvalidArgument with the checker's or shape inference's message otherwise.
// Thread-safe; CPU-bound (run it off the I/O threads).
Status ValidateOnnxModel(std::string_view bytes, bool* skipped);

}  // namespace oxide::server
