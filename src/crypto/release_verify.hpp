#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.hpp"
#include "crypto/release.hpp"

namespace oxide::crypto {

// Verification of signed releases and key set rotation, TUF-style
// (docs/format/release-metadata.md). Every refusal is kFailedPrecondition (kInvalidArgument for a
// malformed payload) whose message starts with a stable word naming the reason, so logs and failure
// reports say what happened:
//   "unsigned:"       the envelope carries no signature at all
//   "unknown key:"    no signature is by a key of the trusted set
//   "bad signature:"  fewer than `threshold` trusted keys signed validly (tampered or forged)
//   "wrong type:"     the payload type is not the one expected
//   "wrong model:" / "wrong version:"  signed for another model or version
//   "rollback:"       counter lower than the highest installed for this model
//   "expired:"        the metadata (or the trusted key set) is past its expiry: a freeze
//   "size mismatch:" / "hash mismatch:"  (VerifyAssignment) the assignment is not what was signed

// Number of distinct keys of `keys` with a valid signature over Pae(type, payload).
size_t CountValidSignatures(const Envelope& e, const KeySet& keys);

// Verifies a release envelope against the trusted key set and returns its metadata.
// `installed_counter` is the highest counter installed for the model (0: none); an equal counter
// is accepted (the same release again). `now_unix` is wall-clock seconds.
Result<ReleaseMetadata> VerifyRelease(const Envelope& e, const KeySet& trusted,
                                      std::string_view model, std::string_view version,
                                      uint64_t installed_counter, int64_t now_unix);

// Checks that a verified release is what the server assigned (hash and size).
Status VerifyAssignment(const ReleaseMetadata& m, std::string_view sha256, uint64_t size);

// Verifies a self-signed key set (the initial one, trusted on first use, e.g. at flashing):
// signed by `threshold` of its own keys. Returns the set.
Result<KeySet> VerifyRootKeySet(const Envelope& e);

// Verifies the next key set of a chain: version current.version + 1, signed by `threshold`
// keys of `current` AND by its own threshold of its own keys. Expiry is not checked here: an
// expired current set must not block rotating to a fresh one. Returns the next set.
Result<KeySet> VerifyKeySetUpdate(const KeySet& current, const Envelope& next);

}  // namespace oxide::crypto
