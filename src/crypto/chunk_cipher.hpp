#pragma once

#include <openssl/types.h>  // EVP_CIPHER_CTX only

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/result.hpp"
#include "crypto/encrypted_format.hpp"
#include "crypto/key_file.hpp"

namespace oxide::crypto {

// AES-256-GCM under one file's subkey (HKDF-SHA-256 of the master key and the header's salt);
// the header is the AAD of every chunk, so any change to it (salt, prefix, chunk size, key id)
// fails the first chunk opened. Shared by the stream classes and the random-access reader.
class ChunkCipher {
 public:
  static Result<std::unique_ptr<ChunkCipher>> Create(const EncryptionKey& master,
                                                     const EncHeader& header,
                                                     const EncHeaderBytes& header_bytes,
                                                     bool encrypt);
  ~ChunkCipher();
  ChunkCipher(const ChunkCipher&) = delete;
  ChunkCipher& operator=(const ChunkCipher&) = delete;

  // out: n ciphertext bytes then the tag.
  Status Seal(uint32_t index, bool is_final, const uint8_t* in, size_t n, uint8_t* out);
  // in: ciphertext then tag (n >= kEncTagSize). False when the tag does not verify; `out` then
  // holds unauthenticated bytes the caller must not use.
  bool Open(uint32_t index, bool is_final, const uint8_t* in, size_t n, uint8_t* out);

 private:
  ChunkCipher(const EncHeader& h, const EncHeaderBytes& b) : header_(h), header_bytes_(b) {}
  bool Start(uint32_t index, bool is_final);

  EncHeader header_;
  EncHeaderBytes header_bytes_;
  EVP_CIPHER_CTX* ctx_ = nullptr;
};

// Makes a plaintext buffer at least `n` bytes (at least 1) and never shrinks it, so one wipe of
// buf.size() bytes covers every byte that ever held plaintext. A buffer that must grow is wiped
// before its old block is freed (the old contents are not kept: the caller overwrites them).
void GrowPlainBuffer(std::vector<uint8_t>& buf, size_t n);

}  // namespace oxide::crypto
