#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/result.hpp"
#include "base/sha256.hpp"
#include "delta/base_source.hpp"

namespace oxide::crypto {
class EncryptionKey;
}  // namespace oxide::crypto

namespace oxide::agent {

// Installed models encrypted at rest with the device key (`oxide agent --encryption-key-file`,
// docs/agent.md "Encryption at rest"): active, staging, backup and kept copies are all files in
// the format of docs/format/encrypted-file.md; sizes and SHA-256 are always the plaintext's.

// SHA-256 and size of the plaintext of an encrypted model, streaming through the Decryptor (so
// every chunk and the length are authenticated), asking `should_stop` every kStopCheckBlock.
// kCorrupt (tampered, truncated, not encrypted), kFailedPrecondition (another key), kNotFound,
// kIo, kCancelled.
struct PlainDigest {
  Digest sha256;
  uint64_t size = 0;
};
Result<PlainDigest> HashEncryptedModel(const std::string& path, const crypto::EncryptionKey& key,
                                       const std::function<bool()>& should_stop);

// Whether `path` starts with the encrypted-file magic (false when unreadable or shorter). Lets
// the agent adopt a plaintext model installed before encryption was turned on.
bool LooksEncrypted(const std::string& path);

// Size on disk of a model of `plaintext_size` bytes once EncryptModel() wrote it.
uint64_t EncryptedModelSize(uint64_t plaintext_size);

// Encrypts the verified plaintext model `in` into `out` (temp file + fsync + rename).
Status EncryptModel(const std::string& in, const std::string& out,
                    const crypto::EncryptionKey& key);

// A patch base read from an encrypted model: ReadAt decrypts the chunks it covers; View()
// (binary patches only) decrypts the whole model into memory, which the binary strategy needs
// anyway. The caller authenticates the whole base first (HashEncryptedModel).
Result<std::unique_ptr<delta::BaseSource>> OpenEncryptedBase(const std::string& path,
                                                             const crypto::EncryptionKey& key);

}  // namespace oxide::agent
