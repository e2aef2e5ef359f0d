#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/file_util.hpp"
#include "base/result.hpp"
#include "crypto/encrypted_format.hpp"
#include "crypto/key_file.hpp"

namespace oxide::crypto {

class ChunkCipher;

// Random-access reads of an encrypted file's plaintext: chunk i sits at 64 + i * (C + 16), and
// the file size gives the chunk count, the final chunk and the plaintext size. Each read
// decrypts and authenticates only the chunks it covers (one chunk is cached, so sequential reads
// decrypt each chunk once). A read that reaches the last chunk also proves the length (it must
// verify as the final chunk); a caller that needs the whole file authentic reads all of it once
// (the agent hashes a base fully before patching from it).
//
// Open errors: kNotFound / kIo; kCorrupt (bad header, or a size no encrypted file can have);
// kUnsupported (version); kFailedPrecondition (another key's id). ReadAt: kCorrupt when a chunk
// fails authentication, kInvalidArgument past the end. Not thread-safe (the chunk cache).
class EncryptedFileReader {
 public:
  static Result<std::unique_ptr<EncryptedFileReader>> Open(const std::string& path,
                                                           const EncryptionKey& key);
  ~EncryptedFileReader();
  EncryptedFileReader(const EncryptedFileReader&) = delete;
  EncryptedFileReader& operator=(const EncryptedFileReader&) = delete;

  uint64_t size() const { return plaintext_size_; }
  Status ReadAt(uint64_t offset, void* dst, size_t n);

 private:
  EncryptedFileReader() = default;
  Status LoadChunk(uint64_t index);

  std::unique_ptr<ReadableFile> file_;
  std::string path_;
  EncHeader header_;
  std::unique_ptr<ChunkCipher> cipher_;
  uint64_t chunks_ = 0;
  uint64_t plaintext_size_ = 0;
  std::vector<uint8_t> sealed_;
  std::vector<uint8_t> plain_;
  uint64_t cached_ = UINT64_MAX;  // index of the chunk in plain_
  size_t cached_size_ = 0;
};

}  // namespace oxide::crypto
