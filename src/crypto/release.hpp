#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "crypto/ed25519.hpp"

namespace oxide::crypto {

// Signed release metadata and release key sets (docs/format/release-metadata.md). Both travel in
// a DSSE-style envelope; these are the wire types and their JSON codec. Every parser checks
// every type and length and fails with kInvalidArgument naming the field.

inline constexpr std::string_view kReleasePayloadType = "application/vnd.oxide.release+json";
inline constexpr std::string_view kKeysPayloadType = "application/vnd.oxide.keys+json";

// Bounds on untrusted input.
inline constexpr size_t kMaxEnvelopeSize = 64 << 10;  // envelope JSON text
inline constexpr size_t kMaxSignatures = 16;
inline constexpr size_t kMaxKeys = 16;

struct EnvelopeSignature {
  std::string keyid;  // 64 lower-case hex characters
  std::string sig;    // raw 64-byte Ed25519 signature (base64 on the wire)
};

// {"payload_type":..., "payload":"<base64>", "signatures":[{"keyid","sig"}]}. Signatures cover
// Pae(payload_type, payload), payload being the decoded bytes.
struct Envelope {
  std::string payload_type;
  std::string payload;  // decoded bytes (the metadata or key set JSON)
  std::vector<EnvelopeSignature> signatures;
};

// What one release is: the signed identity of one model version.
struct ReleaseMetadata {
  std::string model;
  std::string version;
  std::string sha256;  // lower-case hex of the whole model file
  uint64_t size = 0;
  uint64_t counter = 0;      // only ever increases per model: a lower one is a rollback
  int64_t expires_unix = 0;  // seconds; "expires" on the wire is RFC 3339 UTC
};

struct TrustedKey {
  std::string keyid;  // KeyId(public_key), checked on parse
  PublicKey public_key{};
};

// A versioned set of release keys; `threshold` distinct keys of the set must sign.
struct KeySet {
  uint64_t version = 0;
  uint32_t threshold = 1;
  std::vector<TrustedKey> keys;
  int64_t expires_unix = 0;

  // The key with this id, or nullptr.
  const TrustedKey* Find(std::string_view keyid) const;
};

Result<Envelope> ParseEnvelope(std::string_view json);
std::string EncodeEnvelope(const Envelope& e);

// kInvalidArgument on malformed JSON, a missing or mistyped field, an unsafe model or version
// id, a bad hash, or a bad time.
Result<ReleaseMetadata> ParseReleaseMetadata(std::string_view json);
std::string EncodeReleaseMetadata(const ReleaseMetadata& m);

// Also refuses: no keys, more than kMaxKeys, a duplicate key, a keyid that is not the hash of
// its key, a threshold of 0 or above the key count, version 0.
Result<KeySet> ParseKeySet(std::string_view json);
std::string EncodeKeySet(const KeySet& k);

// The key set chain served by GET /api/v1/keys: {"key_sets":[envelope,...]} in version order.
// Returns the envelopes (not yet verified; see VerifyKeySetUpdate).
Result<std::vector<Envelope>> ParseKeyChain(std::string_view json);
std::string EncodeKeyChain(const std::vector<Envelope>& chain);

// An envelope of `payload` signed by each of `keys`.
Result<Envelope> SignEnvelope(std::string_view payload_type, std::string payload,
                              const std::vector<SigningKey>& keys);

// The last instant with a YYYY spelling: 9999-12-31T23:59:59Z.
inline constexpr int64_t kMaxUtcTime = 253402300799;

// "2027-12-31T00:00:00Z" (exactly this form, UTC, years 0000-9999) <-> Unix seconds, computed in
// 64 bits (no time_t: it may be 32 bits wide). FormatUtcTime clamps to years 0000..9999.
Result<int64_t> ParseUtcTime(std::string_view text);
std::string FormatUtcTime(int64_t unix_seconds);

}  // namespace oxide::crypto
