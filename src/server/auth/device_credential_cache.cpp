#include "server/auth/device_credential_cache.hpp"

#include "server/auth/token.hpp"

namespace oxide::server::auth {

uint64_t DeviceCredentialCache::generation() const {
  std::lock_guard<std::mutex> l(mu_);
  return generation_;
}

bool DeviceCredentialCache::Accepted(const std::string& device_id,
                                     const std::string& secret) const {
  const Clock::Duration now = clock_.Now();
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(device_id);
  if (it == entries_.end() || now >= it->second.expires) return false;
  return ConstantTimeEquals(it->second.secret, secret);
}

void DeviceCredentialCache::Remember(const std::string& device_id, const std::string& secret,
                                     uint64_t generation) {
  // Monotonic: a wall clock stepped back (NTP) must not stretch the TTL that bounds how long
  // another replica's revoke goes unseen.
  const Clock::Duration expires = clock_.Now() + options_.ttl;
  std::lock_guard<std::mutex> l(mu_);
  if (generation != generation_) return;
  if (entries_.size() >= options_.max_entries) entries_.clear();
  entries_[device_id] = Entry{secret, expires};
}

void DeviceCredentialCache::Invalidate(const std::string& device_id) {
  std::lock_guard<std::mutex> l(mu_);
  ++generation_;
  entries_.erase(device_id);
}

size_t DeviceCredentialCache::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return entries_.size();
}

}  // namespace oxide::server::auth
