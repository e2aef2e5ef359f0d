#pragma once

// Remembers device credentials the store accepted, so a device's next requests skip the SHA-256
// of its secret and the store read (issue #12: ~11 % of a heartbeat's server time). Only
// accepted credentials are kept; a refusal is always decided by the store.
//
// Correctness: every change of a device's credential or state on this server (enroll, accept,
// reject, revoke, device removal) calls Invalidate() after its transaction committed, and an
// entry read from the store before such a change is never stored after it (generation check),
// so on one server a revoke takes effect at once. A change made by another replica on the same
// PostgreSQL database is not seen here: entries expire `ttl` after the store accepted them, so
// such a revoke takes effect within `ttl` on every replica. Thread-safe.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/clock.hpp"

namespace oxide::server::auth {

struct DeviceCredentialCacheOptions {
  std::chrono::milliseconds ttl{5'000};  // bounds how long another replica's revoke goes unseen
  size_t max_entries = 1'000'000;        // beyond, the cache is emptied (refilled on demand)
};

class DeviceCredentialCache {
 public:
  explicit DeviceCredentialCache(const Clock& clock, DeviceCredentialCacheOptions options = {})
      : clock_(clock), options_(options) {}
  DeviceCredentialCache(const DeviceCredentialCache&) = delete;
  DeviceCredentialCache& operator=(const DeviceCredentialCache&) = delete;

  // Taken before reading the store; Remember() with it stores nothing if any Invalidate() ran
  // in between (the read may predate that change).
  uint64_t generation() const;
  // `secret` was accepted for `device_id` less than ttl ago and nothing invalidated it since.
  bool Accepted(const std::string& device_id, const std::string& secret) const;
  void Remember(const std::string& device_id, const std::string& secret, uint64_t generation);
  // The device's credential or state changed (or it was removed): forget it.
  void Invalidate(const std::string& device_id);

  size_t size() const;

 private:
  struct Entry {
    std::string secret;
    Clock::Duration expires{};  // on clock_.Now()
  };
  const Clock& clock_;
  const DeviceCredentialCacheOptions options_;
  mutable std::mutex mu_;
  uint64_t generation_ = 0;
  std::unordered_map<std::string, Entry> entries_;  // by device id
};

}  // namespace oxide::server::auth
