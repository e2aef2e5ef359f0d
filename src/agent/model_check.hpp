#pragma once

#include <cstdint>
#include <string>

#include "base/status.hpp"

namespace oxide::agent {

// Checks that the model file at `path` is exactly the expected one: size (when non-zero),
// SHA-256 (hex), and that it parses as the format it looks like (ONNX, SafeTensors; unknown
// formats are accepted as opaque bytes).
// kCorrupt on mismatch or a malformed model, kNotFound / kIo when unreadable.
Status VerifyModelFile(const std::string& path, const std::string& sha256_hex, uint64_t size_bytes);

}  // namespace oxide::agent
