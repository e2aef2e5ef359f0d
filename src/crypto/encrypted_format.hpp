#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/result.hpp"

namespace oxide::crypto {

// Byte layout of an Oxide encrypted file (docs/format/encrypted-file.md is the spec; this header
// holds only what the encryptor and the decryptor share, LevelDB log_format.h style).
//
//   header (64 bytes) | chunk 0 | chunk 1 | ... | chunk N-1 (final)
//   chunk = AES-256-GCM ciphertext of up to chunk_size plaintext bytes || 16-byte tag
//
// Every chunk but the last holds exactly chunk_size plaintext bytes; the last holds 1..chunk_size
// (0 only when the whole plaintext is empty, which is then a single empty final chunk).

// 0x89 catches 7-bit transports, "\r\n" and "\x1a\n" catch newline conversion (PNG's trick).
inline constexpr std::array<uint8_t, 8> kEncMagic = {0x89, 'O', 'X', 'E', 0x0d, 0x0a, 0x1a, 0x0a};
inline constexpr uint8_t kEncVersion = 1;
// The only suite of version 1: HKDF-SHA-256 subkey, AES-256-GCM chunks.
inline constexpr uint8_t kEncSuiteAes256GcmHkdfSha256 = 1;

inline constexpr size_t kEncHeaderSize = 64;
inline constexpr size_t kEncTagSize = 16;
inline constexpr size_t kEncKeyIdSize = 8;
inline constexpr size_t kEncSaltSize = 32;
inline constexpr size_t kEncNoncePrefixSize = 7;
inline constexpr size_t kEncNonceSize = 12;  // prefix(7) || counter(4, big-endian) || final(1)

inline constexpr uint32_t kEncDefaultChunkSize = 64u << 10;
// Small chunks are allowed (tests use them); large ones bound the decryptor's memory: it holds
// at most one ciphertext chunk and one plaintext chunk (2 x 16 MiB at this limit).
inline constexpr uint32_t kEncMinChunkSize = 16;
inline constexpr uint32_t kEncMaxChunkSize = 16u << 20;
// The chunk counter is 32 bits: at most 2^32 chunks (256 TiB at the default chunk size).
inline constexpr uint64_t kEncMaxChunks = uint64_t{1} << 32;

// Field offsets inside the header.
inline constexpr size_t kEncOffVersion = 8;
inline constexpr size_t kEncOffSuite = 9;
inline constexpr size_t kEncOffReserved = 10;  // 2 bytes, zero
inline constexpr size_t kEncOffChunkSize = 12;
inline constexpr size_t kEncOffKeyId = 16;
inline constexpr size_t kEncOffSalt = 24;
inline constexpr size_t kEncOffNoncePrefix = 56;
inline constexpr size_t kEncOffReserved2 = 63;  // 1 byte, zero

using EncKeyId = std::array<uint8_t, kEncKeyIdSize>;

struct EncHeader {
  uint32_t chunk_size = kEncDefaultChunkSize;
  EncKeyId key_id{};
  std::array<uint8_t, kEncSaltSize> salt{};
  std::array<uint8_t, kEncNoncePrefixSize> nonce_prefix{};
};

using EncHeaderBytes = std::array<uint8_t, kEncHeaderSize>;

EncHeaderBytes SerializeHeader(const EncHeader& h);
// Parses the first kEncHeaderSize bytes of `bytes`. kCorrupt: too short, bad magic, a reserved
// byte set, chunk size out of range. kUnsupported: another version or suite.
Result<EncHeader> ParseHeader(std::string_view bytes);

// The nonce of chunk `index`: prefix || big-endian index || (is_final ? 1 : 0). The final flag
// makes a chunk authenticate only at the position it was written for: a file cut at a chunk
// boundary ends on a chunk that was sealed as non-final, and fails.
std::array<uint8_t, kEncNonceSize> ChunkNonce(const EncHeader& h, uint32_t index, bool is_final);

// Size of the encrypted form of `plaintext_size` bytes.
uint64_t EncryptedSize(uint64_t plaintext_size, uint32_t chunk_size);

}  // namespace oxide::crypto
