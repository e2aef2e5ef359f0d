// libFuzzer harness for the encrypted-file reader (docs/format/encrypted-file.md).
//
// First byte even: the rest is an encrypted file, fed to the Decryptor in pieces whose size
// comes from the second byte; header parsing, buffering across pieces and every error path run.
// First byte odd: the rest is plaintext; it is encrypted (chunk size from the second byte),
// must decrypt back to itself, and the same file with one byte flipped (position from the input)
// must be refused. The key is fixed, so committed seeds (tests/fuzz/fuzz_encrypted_file/, made
// with this key) reach the chunk code instead of stopping at "wrong key".
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "crypto/aes_gcm_stream.hpp"

namespace oxide::crypto {

// Not static: fuzz_replay_test.cpp decrypts the committed seeds with it.
const EncryptionKey& FuzzHarnessKey() {
  static const EncryptionKey key = [] {
    std::array<uint8_t, kEncKeySize> b;
    b.fill(0x42);  // tests/fuzz/fuzz_encrypted_file/README names this key
    return EncryptionKey(b);
  }();
  return key;
}

}  // namespace oxide::crypto

namespace {

using oxide::ErrorCode;
using oxide::Status;
using namespace oxide::crypto;  // NOLINT: local to the harness

[[noreturn]] void Violation(const char* what, const std::string& detail) {
  std::fprintf(stderr, "invariant violated: %s: %s\n", what, detail.c_str());
  std::abort();
}

const EncryptionKey& FuzzKey() { return FuzzHarnessKey(); }

Status DecryptInPieces(std::string_view sealed, size_t piece, std::string* out) {
  auto dec = Decryptor::Create(FuzzKey(), [out](const uint8_t* p, size_t n) {
    out->append(reinterpret_cast<const char*>(p), n);
    return Status::Ok();
  });
  if (!dec.ok()) Violation("Decryptor::Create", dec.status().ToString());
  for (size_t i = 0; i < sealed.size(); i += piece) {
    Status s = (*dec)->Update(sealed.data() + i, std::min(piece, sealed.size() - i));
    if (!s.ok()) return s;
  }
  return (*dec)->Finish();
}

void CheckRefusal(const Status& s) {
  if (s.code() != ErrorCode::kCorrupt && s.code() != ErrorCode::kUnsupported &&
      s.code() != ErrorCode::kFailedPrecondition) {
    Violation("unexpected error code", s.ToString());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool roundtrip = (data[0] & 1) != 0;
  const size_t knob = data[1];
  const auto chunk_size = static_cast<uint32_t>(kEncMinChunkSize + knob);
  const std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
  std::string out;
  if (!roundtrip) {
    Status s = DecryptInPieces(rest, knob + 1, &out);
    if (!s.ok()) CheckRefusal(s);
    (void)ParseHeader(rest);
    return 0;
  }
  std::string sealed;
  auto enc = Encryptor::Create(
      FuzzKey(),
      [&](const uint8_t* p, size_t n) {
        sealed.append(reinterpret_cast<const char*>(p), n);
        return Status::Ok();
      },
      chunk_size);
  if (!enc.ok()) Violation("Encryptor::Create", enc.status().ToString());
  if (!(*enc)->Update(rest.data(), rest.size()).ok() || !(*enc)->Finish().ok()) {
    Violation("encrypt failed", "");
  }
  if (sealed.size() != EncryptedSize(rest.size(), chunk_size)) {
    Violation("encrypted size", std::to_string(sealed.size()));
  }
  Status s = DecryptInPieces(sealed, knob + 1, &out);
  if (!s.ok() || out != rest) Violation("round trip", s.ToString());
  // Any single flipped byte must be refused.
  size_t pos = (knob * 7919 + rest.size()) % sealed.size();
  sealed[pos] = static_cast<char>(sealed[pos] ^ (1 + (knob % 255)));
  out.clear();
  s = DecryptInPieces(sealed, knob + 1, &out);
  if (s.ok()) Violation("tampered file accepted", std::to_string(pos));
  CheckRefusal(s);
  return 0;
}
