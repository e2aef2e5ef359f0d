#include "crypto/release_verify.hpp"

#include <set>

namespace oxide::crypto {

namespace {

Status Refuse(std::string_view reason, const std::string& detail) {
  return FailedPrecondition(std::string(reason) + ": " + detail);
}

// Signed by at least `threshold` of `keys`, with the precise reason when not.
Status CheckSigned(const Envelope& e, const KeySet& keys, std::string_view what) {
  if (e.signatures.empty()) return Refuse("unsigned", std::string(what));
  bool any_known = false;
  for (const EnvelopeSignature& s : e.signatures) any_known |= keys.Find(s.keyid) != nullptr;
  if (!any_known) {
    return Refuse("unknown key", std::string(what) + " is signed by no key of key set v" +
                                     std::to_string(keys.version));
  }
  size_t valid = CountValidSignatures(e, keys);
  if (valid < keys.threshold) {
    return Refuse("bad signature", std::string(what) + ": " + std::to_string(valid) +
                                       " valid signature(s) by key set v" +
                                       std::to_string(keys.version) + ", " +
                                       std::to_string(keys.threshold) + " needed");
  }
  return Status::Ok();
}

// Unauthenticated text (checked before any signature) for a message that reaches logs and
// failure reports: bytes outside printable ASCII become \xNN, and it is cut at `max` bytes.
std::string Quoted(std::string_view text, size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < text.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (text.size() > max) out += "...";
  return out;
}

Status CheckType(const Envelope& e, std::string_view expected) {
  if (e.payload_type == expected) return Status::Ok();
  return Refuse("wrong type", "payload type '" + Quoted(e.payload_type, 48) + "', expected '" +
                                  std::string(expected) + "'");
}

}  // namespace

size_t CountValidSignatures(const Envelope& e, const KeySet& keys) {
  const std::string pae = Pae(e.payload_type, e.payload);
  std::set<std::string> good;
  for (const EnvelopeSignature& s : e.signatures) {
    const TrustedKey* k = keys.Find(s.keyid);
    if (k != nullptr && !good.contains(s.keyid) && Verify(k->public_key, pae, s.sig)) {
      good.insert(s.keyid);
    }
  }
  return good.size();
}

Result<ReleaseMetadata> VerifyRelease(const Envelope& e, const KeySet& trusted,
                                      std::string_view model, std::string_view version,
                                      uint64_t installed_counter, int64_t now_unix) {
  OXIDE_RETURN_IF_ERROR(CheckType(e, kReleasePayloadType));
  OXIDE_RETURN_IF_ERROR(
      CheckSigned(e, trusted, "release " + std::string(model) + "@" + std::string(version)));
  if (trusted.expires_unix <= now_unix) {
    return Refuse("expired", "the trusted key set v" + std::to_string(trusted.version) +
                                 " expired at " + FormatUtcTime(trusted.expires_unix));
  }
  OXIDE_ASSIGN_OR_RETURN(ReleaseMetadata m, ParseReleaseMetadata(e.payload));
  if (m.model != model) return Refuse("wrong model", "signed for '" + m.model + "'");
  if (m.version != version) return Refuse("wrong version", "signed for '" + m.version + "'");
  if (m.counter < installed_counter) {
    return Refuse("rollback", "release counter " + std::to_string(m.counter) +
                                  " is lower than the installed " +
                                  std::to_string(installed_counter));
  }
  if (m.expires_unix <= now_unix) {
    return Refuse("expired", "release metadata expired at " + FormatUtcTime(m.expires_unix));
  }
  return m;
}

Status VerifyAssignment(const ReleaseMetadata& m, std::string_view sha256, uint64_t size) {
  if (m.sha256 != sha256) {
    return Refuse("hash mismatch", "assigned sha256 " + std::string(sha256.substr(0, 12)) +
                                       "... is not the signed " + m.sha256.substr(0, 12) + "...");
  }
  if (m.size != size) {
    return Refuse("size mismatch", "assigned size " + std::to_string(size) + " is not the signed " +
                                       std::to_string(m.size));
  }
  return Status::Ok();
}

Result<KeySet> VerifyRootKeySet(const Envelope& e) {
  OXIDE_RETURN_IF_ERROR(CheckType(e, kKeysPayloadType));
  OXIDE_ASSIGN_OR_RETURN(KeySet k, ParseKeySet(e.payload));
  OXIDE_RETURN_IF_ERROR(CheckSigned(e, k, "key set v" + std::to_string(k.version)));
  return k;
}

Result<KeySet> VerifyKeySetUpdate(const KeySet& current, const Envelope& next) {
  OXIDE_RETURN_IF_ERROR(CheckType(next, kKeysPayloadType));
  OXIDE_ASSIGN_OR_RETURN(KeySet k, ParseKeySet(next.payload));
  if (k.version != current.version + 1) {
    return Refuse("wrong version", "key set v" + std::to_string(k.version) + " does not follow v" +
                                       std::to_string(current.version));
  }
  const std::string what = "key set v" + std::to_string(k.version);
  OXIDE_RETURN_IF_ERROR(CheckSigned(
      next, current, what + " (by the keys of v" + std::to_string(current.version) + ")"));
  OXIDE_RETURN_IF_ERROR(CheckSigned(next, k, what + " (by its own keys)"));
  return k;
}

}  // namespace oxide::crypto
