#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "base/result.hpp"
#include "crypto/encrypted_format.hpp"
#include "crypto/key_file.hpp"

namespace oxide::crypto {

// Receives output bytes in order. An error stops the stream and is returned by the call that
// emitted them.
using ByteSink = std::function<Status(const uint8_t* data, size_t n)>;

class ChunkCipher;  // crypto/chunk_cipher.hpp

// Push-based streaming encryption (docs/format/encrypted-file.md). Memory is one chunk,
// whatever the input size. Feed bytes with Update() in pieces of any size, then Finish().
class Encryptor {
 public:
  // Draws a fresh salt and nonce prefix (RAND_bytes) and derives the file subkey.
  // kInvalidArgument for a chunk size outside [kEncMinChunkSize, kEncMaxChunkSize].
  static Result<std::unique_ptr<Encryptor>> Create(const EncryptionKey& key, ByteSink sink,
                                                   uint32_t chunk_size = kEncDefaultChunkSize);
  ~Encryptor();
  Encryptor(const Encryptor&) = delete;
  Encryptor& operator=(const Encryptor&) = delete;

  // Emits the header (first call) and every chunk known not to be the last. kResourceExhausted
  // past kEncMaxChunks chunks. After an error (its own or the sink's) every call returns that
  // same first error; after Finish() succeeded, kFailedPrecondition.
  Status Update(const void* data, size_t n);
  // Emits the final chunk. The stream is complete once this returns OK.
  Status Finish();

 private:
  Encryptor(EncHeader header, std::unique_ptr<ChunkCipher> cipher, ByteSink sink);
  Status EmitHeaderOnce();
  Status SealBuffered(bool is_final);

  EncHeader header_;
  EncHeaderBytes header_bytes_;
  std::unique_ptr<ChunkCipher> cipher_;
  ByteSink sink_;
  std::vector<uint8_t> plain_;  // chunk_size bytes; the first plain_len_ wait to be sealed
  size_t plain_len_ = 0;
  std::vector<uint8_t> out_;
  uint64_t next_chunk_ = 0;
  bool header_sent_ = false;
  Status error_;       // the first error, returned by every later call
  bool done_ = false;  // Finish() was called
};

// Push-based streaming decryption and verification. Emits a chunk's plaintext only after that
// chunk's tag verified; the stream as a whole is authentic only when Finish() returns OK (a
// caller writing a file must discard its output on any error: see DecryptFile). Memory is one
// ciphertext chunk plus one plaintext chunk, and grows with the input only up to that.
//
// Errors: kCorrupt (bad magic, reserved bits, chunk size out of range, a chunk that fails
// authentication, truncation, trailing data); kUnsupported (another version or suite);
// kFailedPrecondition (the header names another key id: wrong key). After an error every call
// fails again.
class Decryptor {
 public:
  static Result<std::unique_ptr<Decryptor>> Create(const EncryptionKey& key, ByteSink sink);
  ~Decryptor();
  Decryptor(const Decryptor&) = delete;
  Decryptor& operator=(const Decryptor&) = delete;

  Status Update(const void* data, size_t n);
  // Verifies the final chunk and emits its plaintext.
  Status Finish();

  uint64_t plaintext_bytes() const { return plaintext_bytes_; }
  uint64_t chunks() const { return next_chunk_; }

 private:
  Decryptor(const EncryptionKey& key, ByteSink sink);
  Status Fail(Status s);
  Status OpenBuffered(bool is_final);

  EncryptionKey key_;
  ByteSink sink_;
  std::vector<uint8_t> header_buf_;
  EncHeader header_;
  EncHeaderBytes header_bytes_{};
  std::unique_ptr<ChunkCipher> cipher_;
  std::vector<uint8_t> cipher_buf_;  // at most chunk_size + tag bytes
  std::vector<uint8_t> plain_;       // chunk_size bytes once the header is known; wiped on death
  uint64_t next_chunk_ = 0;
  uint64_t plaintext_bytes_ = 0;
  Status error_;
  bool finished_ = false;
};

}  // namespace oxide::crypto
