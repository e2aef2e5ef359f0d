#include "codec/residual_coder.hpp"

#include <cstring>

// Placeholder until the context-modelled range coder lands: stores the residual verbatim.
// The format of this stub is not part of any released patch.

namespace oxide::codec {

bool IsValidBlockInfo(const BlockInfo& info) {
  if (info.width != 1 && info.width != 2 && info.width != 4 && info.width != 8) return false;
  switch (info.kind) {
    case ElementKind::kBytes:
      return true;
    case ElementKind::kFp16:
    case ElementKind::kBf16:
      return info.width == 2;
    case ElementKind::kFp32:
      return info.width == 4;
    case ElementKind::kFp64:
      return info.width == 8;
  }
  return false;
}

void EncodeResidualBlock(const BlockInfo&, const uint8_t* residual, const uint8_t*, size_t n,
                         std::string* out) {
  out->append(reinterpret_cast<const char*>(residual), n);
}

Status DecodeResidualBlock(const BlockInfo& info, const uint8_t* payload, size_t len,
                           const uint8_t*, uint8_t* residual, size_t n) {
  if (!IsValidBlockInfo(info)) return Corrupt("residual block: invalid element kind or width");
  if (len != n) return Corrupt("residual block: payload size does not match the block");
  if (n != 0) std::memcpy(residual, payload, n);
  return Status::Ok();
}

}  // namespace oxide::codec
