#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "crypto/encrypted_format.hpp"

namespace oxide::crypto {

inline constexpr size_t kEncKeySize = 32;

// A 256-bit master key for encrypted files. The bytes are wiped when the object dies. Its id is
// the first 8 bytes of SHA-256("oxide encryption key id v1" || key): it names the key in file
// headers and key files (so a wrong key gets a clear error) and reveals nothing usable about it.
class EncryptionKey {
 public:
  explicit EncryptionKey(const std::array<uint8_t, kEncKeySize>& bytes);
  ~EncryptionKey();
  EncryptionKey(const EncryptionKey& other);
  EncryptionKey& operator=(const EncryptionKey& other);

  // 32 bytes from the OpenSSL CSPRNG (RAND_bytes). kInternal when it cannot seed.
  static Result<EncryptionKey> Generate();

  const std::array<uint8_t, kEncKeySize>& bytes() const { return bytes_; }
  const EncKeyId& id() const { return id_; }
  std::string IdHex() const;

 private:
  std::array<uint8_t, kEncKeySize> bytes_;
  EncKeyId id_;
};

// 16 lower-case hex digits.
std::string KeyIdHex(const EncKeyId& id);

// Key file text (three lines, see docs/format/encrypted-file.md):
//   oxide-encryption-key v1
//   id <16 hex>
//   key <64 hex>
std::string FormatKeyFile(const EncryptionKey& key);
// kInvalidArgument for anything else, including an id that does not match the key (a file edited
// by hand or damaged).
Result<EncryptionKey> ParseKeyFile(std::string_view text);

// Writes a key file with mode 0600, atomically (temp file, fsync, rename, fsync dir). Refuses an
// existing `path` (kFailedPrecondition) unless `overwrite`.
Status WriteKeyFile(const std::string& path, const EncryptionKey& key, bool overwrite);
// Loads a key file. kNotFound when missing; kFailedPrecondition when it is not a regular file or
// group/other have any permission on it (a key others can read is not secret); kInvalidArgument
// when malformed.
Result<EncryptionKey> LoadKeyFile(const std::string& path);

}  // namespace oxide::crypto
