#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace oxide {

using Digest = std::array<uint8_t, 32>;

// Lower-case hex of a digest.
std::string ToHex(const Digest& d);
// Parses 64 hex characters (either case); kInvalidArgument otherwise.
Result<Digest> DigestFromHex(std::string_view hex);

// Streaming SHA-256 over OpenSSL EVP (uses SHA-NI where available). Not thread-safe.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  // Returns the digest; the object is reset and may be reused.
  Digest Finish();

  static Digest Of(const void* data, size_t n);
  static Digest Of(std::string_view s) { return Of(s.data(), s.size()); }

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// Hashes a whole file, streaming. kNotFound / kIo on failure.
Result<Digest> Sha256File(const std::string& path);

}  // namespace oxide
