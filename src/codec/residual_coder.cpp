#include "codec/residual_coder.hpp"

#include <cstring>

#include "codec/class_model.hpp"
#include "codec/float_bytes_decoder.hpp"
#include "codec/float_model.hpp"
#include "codec/scratch.hpp"
#include "codec/zstd_planes.hpp"

// Chooses, per block, the smallest of the modes that apply; see BlockMode. Verbatim is always a
// candidate, so a payload is never longer than n + 1 bytes.

namespace oxide::codec {

using internal::DecodeClassModel;
using internal::DecodeFloatModel;
using internal::DecodeZstdPlanes;
using internal::FloatModelSupports;
using internal::Scratch;

CoderContext::CoderContext() : scratch_(std::make_unique<Scratch>()) {}
CoderContext::~CoderContext() = default;
CoderContext::CoderContext(CoderContext&&) noexcept = default;
CoderContext& CoderContext::operator=(CoderContext&&) noexcept = default;

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

void EncodeResidualBlock(const BlockInfo& info, const uint8_t* residual, const uint8_t* base,
                         size_t n, std::string* out) {
  EncodeResidualBlock(info, residual, base, n, out, EncodeOptions{});
}

void EncodeResidualBlock(const BlockInfo& info, const uint8_t* residual, const uint8_t* base,
                         size_t n, std::string* out, const EncodeOptions& options) {
  CoderContext ctx;
  EncodeResidualBlock(info, residual, base, n, out, options, &ctx);
}

void EncodeResidualBlock(const BlockInfo& info, const uint8_t* residual, const uint8_t* base,
                         size_t n, std::string* out, const EncodeOptions& options,
                         CoderContext* ctx) {
  Scratch* sc = ctx->scratch();
  // Candidates are built in sc->cand and the smallest kept in sc->best (swapped, so both keep
  // their capacity for the next block).
  bool have = false;
  auto consider = [&](BlockMode mode, auto&& encode) {
    sc->cand.clear();
    sc->cand.push_back(static_cast<char>(mode));
    if (!encode(&sc->cand)) return;
    if (!have || sc->cand.size() < sc->best.size()) {
      sc->best.swap(sc->cand);
      have = true;
    }
  };
  if (n != 0) {
    if (info.transform != 0) {
      consider(BlockMode::kClassModel, [&](std::string* s) {
        internal::EncodeClassModel(info, residual, base, n, s, sc);
        return true;
      });
    } else if (FloatModelSupports(info.kind)) {
      // Mode 4 rather than 3 by default: the same size to within a byte, decoded 2-2.5x faster.
      const bool bytes = options.float_bytes;
      consider(bytes ? BlockMode::kFloatBytes : BlockMode::kFloatModel, [&](std::string* s) {
        internal::EncodeFloatModel(
            info, residual, n, bytes ? internal::FloatRaw::kBytes : internal::FloatRaw::kPackedBits,
            s, sc);
        return true;
      });
    }
    if (options.try_zstd) {
      consider(BlockMode::kZstdPlanes, [&](std::string* s) {
        return internal::EncodeZstdPlanes(residual, n, info.width, options.zstd_level, s, sc);
      });
    }
  }
  if (!have || sc->best.size() > n + 1) {
    out->push_back(static_cast<char>(BlockMode::kVerbatim));
    out->append(reinterpret_cast<const char*>(residual), n);
    return;
  }
  out->append(sc->best);
}

Status DecodeResidualBlock(const BlockInfo& info, const uint8_t* payload, size_t len,
                           const uint8_t* base, uint8_t* residual, size_t n) {
  CoderContext ctx;
  return DecodeResidualBlock(info, payload, len, base, residual, n, &ctx);
}

Status DecodeResidualBlock(const BlockInfo& info, const uint8_t* payload, size_t len,
                           const uint8_t* base, uint8_t* residual, size_t n, CoderContext* ctx) {
  Scratch* sc = ctx->scratch();
  if (!IsValidBlockInfo(info)) return Corrupt("residual block: invalid element kind or width");
  if (len == 0) return Corrupt("residual block: empty payload");
  const uint8_t* p = payload + 1;
  const uint8_t* end = payload + len;
  switch (static_cast<BlockMode>(payload[0])) {
    case BlockMode::kVerbatim:
      if (len - 1 != n) return Corrupt("residual block: payload size does not match the block");
      if (n != 0) std::memcpy(residual, p, n);
      return Status::Ok();
    case BlockMode::kZstdPlanes:
      return DecodeZstdPlanes(p, end, info.width, residual, n, sc);
    case BlockMode::kClassModel:
      if (info.transform == 0) return Corrupt("residual block: class model without a base");
      return DecodeClassModel(info, p, end, base, residual, n, sc);
    case BlockMode::kFloatModel:
      if (info.transform != 0 || !FloatModelSupports(info.kind)) {
        return Corrupt("residual block: float model for a residual or non-float block");
      }
      return DecodeFloatModel(info, p, end, residual, n, sc);
    case BlockMode::kFloatBytes:
      if (info.transform != 0 || !FloatModelSupports(info.kind)) {
        return Corrupt("residual block: float model for a residual or non-float block");
      }
      return internal::DecodeFloatBytes(info, p, end, residual, n, sc);
  }
  return Corrupt("residual block: unknown mode " + std::to_string(payload[0]));
}

}  // namespace oxide::codec
