// libFuzzer harness for the residual block coder (src/codec). Two checks per input:
//  1. the bytes after a 3-byte prefix, as a payload, through DecodeResidualBlock under the
//     BlockInfo and block size the prefix picks: the result is OK or kCorrupt, and nothing is
//     read or written out of bounds (ASan);
//  2. the same bytes, as a residual, through EncodeResidualBlock and back: the payload is at most
//     n + 16 bytes and decodes to exactly the input;
//  3. for a float kind without a transform, the literal-float payloads of the bytes (mode 4 and
//     the old mode 3, whatever the encoder would pick) with one byte changed and the end cut as
//     the prefix says: OK or kCorrupt, never out of bounds. Random payloads rarely get past the
//     rANS tables; these reach the decoders' hot loops and final checks;
//  4. likewise, with a transform and a base, the payload of check 2 (the class model, mostly)
//     with one byte changed and the end cut: OK or kCorrupt, never out of bounds (its token pass
//     runs ahead of its raw bits, and unchecked reads are allowed only where they stay inside).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "codec/float_model.hpp"
#include "codec/residual_coder.hpp"

namespace {

using oxide::ErrorCode;
using oxide::Status;
using oxide::codec::BlockInfo;
using oxide::codec::ElementKind;

[[noreturn]] void Violation(const char* what, const std::string& detail) {
  std::fprintf(stderr, "invariant violated: %s: %s\n", what, detail.c_str());
  std::abort();
}

BlockInfo PickInfo(uint8_t b) {
  static constexpr ElementKind kKinds[] = {
      ElementKind::kBytes, ElementKind::kBytes, ElementKind::kBytes, ElementKind::kBytes,
      ElementKind::kFp16,  ElementKind::kBf16,  ElementKind::kFp32,  ElementKind::kFp64};
  static constexpr uint8_t kWidths[] = {1, 2, 4, 8, 2, 2, 4, 8};
  unsigned k = b & 7;
  return BlockInfo{kKinds[k], kWidths[k], static_cast<uint8_t>((b >> 3) % 5)};
}

// A base that looks like float weights more often than not: a fixed pseudo-random pattern.
std::vector<uint8_t> MakeBase(size_t n) {
  std::vector<uint8_t> base(n);
  uint32_t x = 0x9e3779b9u;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    base[i] = static_cast<uint8_t>(i % 4 == 3 ? 0x3c + (x >> 30) : x >> 24);
  }
  return base;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  BlockInfo info = PickInfo(data[0]);
  bool with_base = (data[0] & 0x80) == 0;
  const uint8_t* body = data + 3;
  size_t len = size - 3;

  // 1. Arbitrary payload.
  size_t n = (size_t{data[1]} | size_t{data[2]} << 8) % 20000;
  std::vector<uint8_t> base = MakeBase(std::max(n, len));
  std::vector<uint8_t> out(n);
  Status s = oxide::codec::DecodeResidualBlock(info, body, len, with_base ? base.data() : nullptr,
                                               out.data(), n);
  if (!s.ok() && s.code() != ErrorCode::kCorrupt) Violation("decode error code", s.ToString());

  // 2. Round trip of the body as a residual.
  std::string payload;
  const uint8_t* b = with_base ? base.data() : nullptr;
  oxide::codec::EncodeResidualBlock(info, body, b, len, &payload);
  if (payload.size() > len + 16) Violation("payload too large", std::to_string(payload.size()));
  std::vector<uint8_t> back(len);
  s = oxide::codec::DecodeResidualBlock(info, reinterpret_cast<const uint8_t*>(payload.data()),
                                        payload.size(), b, back.data(), len);
  if (!s.ok()) Violation("round trip does not decode", s.ToString());
  for (size_t i = 0; i < len; ++i) {
    if (back[i] != body[i]) Violation("round trip differs", std::to_string(i));
  }

  oxide::codec::CoderContext ctx;
  // 4. A damaged coded residual.
  if (info.transform != 0 && with_base && payload.size() > 1) {
    std::string p = payload;
    size_t at = 1 + (size_t{data[1]} << 8 | data[2]) % (p.size() - 1);
    p[at] = static_cast<char>(p[at] ^ (data[1] | 1));
    p.resize(p.size() - std::min<size_t>(p.size() - 1, data[2] >> 6));
    std::vector<uint8_t> exact(len);
    s = oxide::codec::DecodeResidualBlock(info, reinterpret_cast<const uint8_t*>(p.data()),
                                          p.size(), b, exact.data(), len, &ctx);
    if (!s.ok() && s.code() != ErrorCode::kCorrupt) Violation("damaged residual", s.ToString());
  }

  // 3. Damaged literal-float payloads.
  if (info.transform != 0 || !oxide::codec::internal::FloatModelSupports(info.kind)) return 0;
  for (auto layout :
       {oxide::codec::internal::FloatRaw::kBytes, oxide::codec::internal::FloatRaw::kPackedBits}) {
    std::string p(1, static_cast<char>(layout == oxide::codec::internal::FloatRaw::kBytes
                                           ? oxide::codec::BlockMode::kFloatBytes
                                           : oxide::codec::BlockMode::kFloatModel));
    oxide::codec::internal::EncodeFloatModel(info, body, len, layout, &p, ctx.scratch());
    size_t at = (size_t{data[1]} << 8 | data[2]) % p.size();
    if (at != 0) p[at] = static_cast<char>(p[at] ^ (data[2] | 1));  // the mode byte stays
    p.resize(p.size() - std::min<size_t>(p.size() - 1, data[1] >> 6));
    std::vector<uint8_t> exact(len);  // exactly n bytes: ASan catches a write past the block
    s = oxide::codec::DecodeResidualBlock(info, reinterpret_cast<const uint8_t*>(p.data()),
                                          p.size(), nullptr, exact.data(), len, &ctx);
    if (!s.ok() && s.code() != ErrorCode::kCorrupt) Violation("damaged float", s.ToString());
  }
  return 0;
}
