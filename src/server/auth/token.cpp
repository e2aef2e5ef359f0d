#include "server/auth/token.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "base/sha256.hpp"
#include "crypto/base64.hpp"

namespace oxide::server::auth {
namespace {

Result<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return Internal("RAND_bytes failed: no secure random source");
  }
  return out;
}

}  // namespace

Result<std::string> GenerateToken(std::string_view prefix) {
  OXIDE_ASSIGN_OR_RETURN(std::string raw, RandomBytes(32));
  return std::string(prefix) + crypto::Base64UrlEncode(raw);
}

Result<std::string> GenerateId() {
  OXIDE_ASSIGN_OR_RETURN(std::string raw, RandomBytes(8));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : raw) {
    out += kHex[(static_cast<uint8_t>(c) >> 4) & 15];
    out += kHex[static_cast<uint8_t>(c) & 15];
  }
  return out;
}

std::string HashSecret(std::string_view secret) {
  return ToHex(Sha256::Of(secret.data(), secret.size()));
}

std::string FingerprintOfHash(std::string_view secret_sha256) {
  return std::string(secret_sha256.substr(0, 16));
}

std::string CredentialFingerprint(std::string_view secret) {
  return FingerprintOfHash(HashSecret(secret));
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace oxide::server::auth
