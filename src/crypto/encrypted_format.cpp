#include "crypto/encrypted_format.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace oxide::crypto {
namespace {

void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

uint32_t GetBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

EncHeaderBytes SerializeHeader(const EncHeader& h) {
  EncHeaderBytes b{};
  std::copy(kEncMagic.begin(), kEncMagic.end(), b.begin());
  b[kEncOffVersion] = kEncVersion;
  b[kEncOffSuite] = kEncSuiteAes256GcmHkdfSha256;
  PutBe32(&b[kEncOffChunkSize], h.chunk_size);
  std::copy(h.key_id.begin(), h.key_id.end(), b.begin() + kEncOffKeyId);
  std::copy(h.salt.begin(), h.salt.end(), b.begin() + kEncOffSalt);
  std::copy(h.nonce_prefix.begin(), h.nonce_prefix.end(), b.begin() + kEncOffNoncePrefix);
  return b;
}

Result<EncHeader> ParseHeader(std::string_view bytes) {
  if (bytes.size() < kEncHeaderSize) {
    return Corrupt("truncated header: " + std::to_string(bytes.size()) + " of " +
                   std::to_string(kEncHeaderSize) + " bytes");
  }
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (!std::equal(kEncMagic.begin(), kEncMagic.end(), p)) {
    return Corrupt("not an Oxide encrypted file (bad magic)");
  }
  if (p[kEncOffVersion] != kEncVersion) {
    return Unsupported("encrypted file version " + std::to_string(p[kEncOffVersion]) +
                       " (this build reads version " + std::to_string(kEncVersion) + ")");
  }
  if (p[kEncOffSuite] != kEncSuiteAes256GcmHkdfSha256) {
    return Unsupported("encryption suite " + std::to_string(p[kEncOffSuite]));
  }
  if (p[kEncOffReserved] != 0 || p[kEncOffReserved + 1] != 0 || p[kEncOffReserved2] != 0) {
    return Corrupt("reserved header bytes are not zero");
  }
  EncHeader h;
  h.chunk_size = GetBe32(p + kEncOffChunkSize);
  if (h.chunk_size < kEncMinChunkSize || h.chunk_size > kEncMaxChunkSize) {
    return Corrupt("chunk size " + std::to_string(h.chunk_size) + " outside [" +
                   std::to_string(kEncMinChunkSize) + ", " + std::to_string(kEncMaxChunkSize) +
                   "]");
  }
  std::memcpy(h.key_id.data(), p + kEncOffKeyId, h.key_id.size());
  std::memcpy(h.salt.data(), p + kEncOffSalt, h.salt.size());
  std::memcpy(h.nonce_prefix.data(), p + kEncOffNoncePrefix, h.nonce_prefix.size());
  return h;
}

std::array<uint8_t, kEncNonceSize> ChunkNonce(const EncHeader& h, uint32_t index, bool is_final) {
  std::array<uint8_t, kEncNonceSize> n{};
  std::copy(h.nonce_prefix.begin(), h.nonce_prefix.end(), n.begin());
  PutBe32(&n[kEncNoncePrefixSize], index);
  n[kEncNonceSize - 1] = is_final ? 1 : 0;
  return n;
}

uint64_t EncryptedSize(uint64_t plaintext_size, uint32_t chunk_size) {
  uint64_t chunks = plaintext_size == 0 ? 1 : (plaintext_size + chunk_size - 1) / chunk_size;
  return kEncHeaderSize + plaintext_size + chunks * kEncTagSize;
}

}  // namespace oxide::crypto
