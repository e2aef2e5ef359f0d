#include "delta/patch_header.hpp"

#include <cstring>

#include "base/coding.hpp"
#include "delta/patch_format.hpp"

namespace oxide::delta {

std::string_view ToString(Strategy s) {
  switch (s) {
    case Strategy::kBinary:
      return "binary";
    case Strategy::kTensor:
      return "tensor";
    case Strategy::kFull:
      return "full";
    case Strategy::kCodedTensor:
      return "coded-tensor";
  }
  return "unknown";
}

uint8_t PatchVersionOf(Strategy s) {
  return s == Strategy::kCodedTensor ? format::kPatchVersionCoded : format::kPatchVersion;
}

namespace {
constexpr size_t kCheckedBytes = kPatchHeaderSize - 4;
uint32_t HeaderCheck(const uint8_t* p) {
  Digest d = Sha256::Of(p, kCheckedBytes);
  return DecodeFixed32(d.data());
}
}  // namespace

std::string EncodePatchHeader(const PatchHeader& h) {
  std::string out(format::kMagic, 4);
  out.push_back(static_cast<char>(PatchVersionOf(h.strategy)));
  out.push_back(static_cast<char>(h.strategy));
  out.push_back(static_cast<char>(h.format_hint));
  out.push_back(0);  // flags
  PutFixed64(&out, h.base_size);
  out.append(reinterpret_cast<const char*>(h.base_sha256.data()), 32);
  PutFixed64(&out, h.target_size);
  out.append(reinterpret_cast<const char*>(h.target_sha256.data()), 32);
  PutFixed64(&out, h.body_size);
  PutFixed32(&out, HeaderCheck(reinterpret_cast<const uint8_t*>(out.data())));
  return out;
}

Result<PatchHeader> ParsePatchHeader(std::string_view bytes) {
  if (bytes.size() < 5) return Corrupt("patch is shorter than its header");
  if (std::memcmp(bytes.data(), format::kMagic, 4) != 0) {
    return Corrupt("not an Oxide patch (bad magic)");
  }
  auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (p[4] != format::kPatchVersion && p[4] != format::kPatchVersionCoded) {
    return Unsupported("patch format version " + std::to_string(p[4]) +
                       " is not supported (this build reads versions " +
                       std::to_string(format::kPatchVersion) + " and " +
                       std::to_string(format::kPatchVersionCoded) + ")");
  }
  if (bytes.size() < kPatchHeaderSize) return Corrupt("patch is shorter than its header");
  if (DecodeFixed32(p + kCheckedBytes) != HeaderCheck(p)) {
    return Corrupt("patch header checksum mismatch");
  }
  PatchHeader h;
  // Each version defines its own strategies: 0-2 in version 2, only 3 in version 3.
  if (p[5] > static_cast<uint8_t>(Strategy::kCodedTensor) ||
      PatchVersionOf(static_cast<Strategy>(p[5])) != p[4]) {
    return Unsupported("unknown patch strategy " + std::to_string(p[5]) + " for version " +
                       std::to_string(p[4]));
  }
  h.strategy = static_cast<Strategy>(p[5]);
  h.format_hint = p[6];
  if (p[7] != 0) return Unsupported("unknown patch flags " + std::to_string(p[7]));
  h.base_size = DecodeFixed64(p + 8);
  std::memcpy(h.base_sha256.data(), p + 16, 32);
  h.target_size = DecodeFixed64(p + 48);
  std::memcpy(h.target_sha256.data(), p + 56, 32);
  h.body_size = DecodeFixed64(p + 88);
  return h;
}

}  // namespace oxide::delta
