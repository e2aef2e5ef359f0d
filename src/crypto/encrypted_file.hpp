#pragma once

#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "crypto/encrypted_format.hpp"
#include "crypto/key_file.hpp"

namespace oxide::crypto {

struct CryptFileOptions {
  bool overwrite = false;                      // replace an existing output (never the input)
  uint32_t chunk_size = kEncDefaultChunkSize;  // encryption only; decryption reads the header
};

struct CryptFileStats {
  uint64_t input_bytes = 0;
  uint64_t output_bytes = 0;
};

// File-to-file encryption and decryption, streaming in constant memory. The output is written to
// a temp file beside `out` and renamed over it only once the whole stream succeeded; decryption
// renames only after the final chunk verified, so no unauthenticated plaintext is ever left at
// `out` (a failed run leaves `out` as it was).
//
// Refusals: kNotFound (no input), kInvalidArgument (`out` is the input file, even with
// overwrite), kFailedPrecondition (`out` exists and !overwrite). Decryption adds the
// Decryptor's errors (kCorrupt for tampering/truncation, kFailedPrecondition for a wrong key).
Result<CryptFileStats> EncryptFile(const std::string& in, const std::string& out,
                                   const EncryptionKey& key, const CryptFileOptions& options);
Result<CryptFileStats> DecryptFile(const std::string& in, const std::string& out,
                                   const EncryptionKey& key, const CryptFileOptions& options);

}  // namespace oxide::crypto
