#pragma once

// Secrets of the control plane: operator tokens ("oxide_..."), fleet enrollment tokens
// ("oxenr_...") and device secrets. Only their SHA-256 is ever stored.

#include <string>
#include <string_view>

#include "base/result.hpp"

namespace oxide::server::auth {

inline constexpr std::string_view kOperatorTokenPrefix = "oxide_";
inline constexpr std::string_view kEnrollmentTokenPrefix = "oxenr_";

// `prefix` + 43 characters: 32 bytes from OpenSSL's RAND_bytes in unpadded base64url.
// kInternal when the random generator fails (never falls back to a weaker source).
Result<std::string> GenerateToken(std::string_view prefix);
// A public handle for a stored secret (list, revoke): 16 lower-case hex characters, random.
Result<std::string> GenerateId();
// Lower-case hex SHA-256 of `secret`: the only form a secret is stored in.
std::string HashSecret(std::string_view secret);
// What an operator compares before accepting a device: the first 16 hex characters of
// HashSecret(secret). The agent logs the same when it enrolls; it reveals nothing usable.
std::string CredentialFingerprint(std::string_view secret);
// Same, from the stored hash.
std::string FingerprintOfHash(std::string_view secret_sha256);
// Equality in time that depends only on the length (CRYPTO_memcmp): for comparing a presented
// secret's hash with the stored one.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace oxide::server::auth
