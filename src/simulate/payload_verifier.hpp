#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "base/sha256.hpp"

namespace oxide::delta {
class BaseSource;
class PatchApplier;
}  // namespace oxide::delta

namespace oxide::simulate {

// Checks one downloaded payload in memory as it streams in, without keeping it: a full file is
// hashed; a patch is applied (the delta library's streaming applier) to `base` and the rebuilt
// target hashed and discarded. Memory: the applier's block and zstd window (at most
// max_window_bytes), never the model, unless `keep` (may be null) asks for the target's bytes:
// they are appended there (the simulator keeps one copy of a version as the base of later
// patches). `base` and `keep` must outlive the verifier. Not thread-safe.
class PayloadVerifier {
 public:
  static std::unique_ptr<PayloadVerifier> ForFull(std::string expected_sha256,
                                                  std::string* keep = nullptr);
  static std::unique_ptr<PayloadVerifier> ForPatch(std::string_view base,
                                                   std::string expected_sha256,
                                                   uint64_t max_window_bytes,
                                                   std::string* keep = nullptr);
  ~PayloadVerifier();
  PayloadVerifier(const PayloadVerifier&) = delete;
  PayloadVerifier& operator=(const PayloadVerifier&) = delete;

  // Errors from the applier (kCorrupt, kFailedPrecondition wrong base, kResourceExhausted, …),
  // sticky.
  Status Feed(const uint8_t* data, size_t n);
  // OK when the target's SHA-256 is the expected one; kCorrupt otherwise.
  Status Finish();
  uint64_t target_bytes() const { return target_bytes_; }

 private:
  class CountingSink;
  PayloadVerifier(std::string expected_sha256, std::string* keep);

  std::string expected_;
  std::string* keep_;
  uint64_t target_bytes_ = 0;
  Status error_ = Status::Ok();
  Sha256 sha_;  // full files only
  std::unique_ptr<delta::BaseSource> base_;
  std::unique_ptr<CountingSink> sink_;
  std::unique_ptr<delta::PatchApplier> applier_;
};

}  // namespace oxide::simulate
