#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace oxide::crypto {

inline constexpr size_t kPublicKeySize = 32;
inline constexpr size_t kSignatureSize = 64;

// A raw Ed25519 public key (RFC 8032).
using PublicKey = std::array<uint8_t, kPublicKeySize>;

// The key id used in envelopes and key sets: lower-case hex SHA-256 of the 32 raw key bytes.
std::string KeyId(const PublicKey& key);

// An Ed25519 private key held by OpenSSL 3 (EVP_PKEY). Cheap to copy (shared, immutable).
// Lives on the operator's machine only: devices and the server hold public keys.
class SigningKey {
 public:
  // A fresh key from the OpenSSL CSPRNG. kInternal if OpenSSL fails.
  static Result<SigningKey> Generate();
  // PKCS#8 "PRIVATE KEY" PEM of an Ed25519 key; kInvalidArgument for anything else.
  static Result<SigningKey> FromPem(std::string_view pem);
  // Reads and parses a PEM file (kNotFound, kIo, kInvalidArgument).
  static Result<SigningKey> ReadPemFile(const std::string& path);

  std::string ToPem() const;
  // Writes ToPem() to `path` with mode 0600 (created so, never wider), atomically: a crash leaves
  // the old file or the new one. kIo on failure.
  Status WritePemFile(const std::string& path) const;

  const PublicKey& public_key() const { return public_key_; }
  // The 64-byte signature of `message`.
  Result<std::string> Sign(std::string_view message) const;

 private:
  struct Pkey;
  SigningKey(std::shared_ptr<Pkey> pkey, const PublicKey& pub)
      : pkey_(std::move(pkey)), public_key_(pub) {}
  std::shared_ptr<Pkey> pkey_;
  PublicKey public_key_{};
};

// Reads a public key from PEM text: a "PUBLIC KEY" block or a private key (its public half).
// kInvalidArgument when it is neither or not Ed25519.
Result<PublicKey> PublicKeyFromPem(std::string_view pem);
// "PUBLIC KEY" PEM (SubjectPublicKeyInfo) of a raw key.
std::string PublicKeyToPem(const PublicKey& key);

// True when `signature` (64 bytes) is a valid Ed25519 signature of `message` by `key`. Any
// malformed input is simply not valid.
bool Verify(const PublicKey& key, std::string_view message, std::string_view signature);

// DSSE pre-authentication encoding, what is actually signed:
// "DSSEv1 " + len(type) + " " + type + " " + len(payload) + " " + payload (decimal lengths).
std::string Pae(std::string_view payload_type, std::string_view payload);

}  // namespace oxide::crypto
