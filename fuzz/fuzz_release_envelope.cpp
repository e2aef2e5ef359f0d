// libFuzzer harness: arbitrary bytes through the signed-release parsers (envelope, release
// metadata, key set, key chain) and the verifiers. Invariants: errors are kInvalidArgument
// (parse) or kFailedPrecondition (refusal); whatever parses re-encodes to something that parses
// to the same values; nothing verifies without a valid signature by the one trusted key, whose
// private half the fuzzer does not have.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "crypto/release.hpp"
#include "crypto/release_verify.hpp"

namespace {

using namespace oxide;          // NOLINT: local to the harness
using namespace oxide::crypto;  // NOLINT

[[noreturn]] void Violation(const char* what, const std::string& detail) {
  std::fprintf(stderr, "invariant violated: %s: %s\n", what, detail.c_str());
  std::abort();
}

void CheckError(const Status& s, const char* what) {
  if (s.ok()) return;
  if (s.code() != ErrorCode::kInvalidArgument && s.code() != ErrorCode::kFailedPrecondition) {
    Violation(what, s.ToString());
  }
}

// A fixed trusted set: RFC 8032 test key 1's public key.
const KeySet& Trusted() {
  static const KeySet k = [] {
    PublicKey pub{0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
                  0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
                  0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};
    return KeySet{1, 1, {{KeyId(pub), pub}}, int64_t{4102444800}};
  }();
  return k;
}

void Payloads(std::string_view payload) {
  auto m = ParseReleaseMetadata(payload);
  CheckError(m.status(), "metadata error code");
  if (m.ok()) {
    auto again = ParseReleaseMetadata(EncodeReleaseMetadata(*m));
    if (!again.ok() || again->model != m->model || again->version != m->version ||
        again->sha256 != m->sha256 || again->size != m->size || again->counter != m->counter ||
        again->expires_unix != m->expires_unix) {
      Violation("metadata round trip", std::string(payload));
    }
  }
  auto k = ParseKeySet(payload);
  CheckError(k.status(), "key set error code");
  if (k.ok()) {
    auto again = ParseKeySet(EncodeKeySet(*k));
    if (!again.ok() || again->version != k->version || again->keys.size() != k->keys.size() ||
        again->threshold != k->threshold || again->expires_unix != k->expires_unix) {
      Violation("key set round trip", std::string(payload));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Payloads(text);
  auto chain = ParseKeyChain(text);
  CheckError(chain.status(), "chain error code");
  auto e = ParseEnvelope(text);
  CheckError(e.status(), "envelope error code");
  if (!e.ok()) return 0;
  auto again = ParseEnvelope(EncodeEnvelope(*e));
  if (!again.ok() || again->payload != e->payload || again->payload_type != e->payload_type ||
      again->signatures.size() != e->signatures.size()) {
    Violation("envelope round trip", std::string(text));
  }
  Payloads(e->payload);
  auto release = VerifyRelease(*e, Trusted(), "m", "v1", 0, 0);
  CheckError(release.status(), "verify error code");
  auto next = VerifyKeySetUpdate(Trusted(), *e);
  CheckError(next.status(), "rotation error code");
  if (release.ok() || next.ok()) Violation("verified without the trusted key", std::string(text));
  CheckError(VerifyRootKeySet(*e).status(), "root error code");
  return 0;
}
