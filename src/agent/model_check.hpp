#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/result.hpp"
#include "base/sha256.hpp"
#include "tensor/tensor_index.hpp"

namespace oxide::crypto {
class EncryptionKey;
}  // namespace oxide::crypto

namespace oxide::agent {

// Checks that the model file at `path` is exactly the expected one: size (when non-zero),
// SHA-256 (hex), and that it parses as the format it looks like or claims (ONNX, SafeTensors:
// a file cut short or with a bad header fails; files that claim no format are accepted as
// opaque bytes, checked by their SHA-256 only).
// kCorrupt on mismatch or a malformed model, kNotFound / kIo when unreadable, kCancelled when
// `should_stop` (may be empty; asked before every block) returned true.
// With `at_rest_key` the file is an encrypted model (model_at_rest.hpp): size and SHA-256 are
// the authenticated plaintext's, and the format parse is skipped (it would need the plaintext in
// memory; the SHA-256 is the one the server accepted). kFailedPrecondition for another key.
Status VerifyModelFile(const std::string& path, const std::string& sha256_hex, uint64_t size_bytes,
                       const std::function<bool()>& should_stop = {},
                       const crypto::EncryptionKey* at_rest_key = nullptr);

// SHA-256 of the file at `path`, streaming, asking `should_stop` (may be empty) before every
// block so that a stop request is honoured within one block even on multi-GB models.
// kNotFound / kIo, kCancelled. With `at_rest_key`: of the decrypted plaintext (kCorrupt when it
// does not authenticate).
Result<Digest> HashFile(const std::string& path, const std::function<bool()>& should_stop,
                        const crypto::EncryptionKey* at_rest_key = nullptr);

// Bytes hashed, copied or patched between two should_stop checks.
inline constexpr size_t kStopCheckBlock = 4u << 20;

}  // namespace oxide::agent
