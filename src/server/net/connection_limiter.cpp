#include "server/net/connection_limiter.hpp"

namespace oxide::server::net {

ConnectionLimiter::Lease& ConnectionLimiter::Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    if (owner_ != nullptr) owner_->Release(address_);
    owner_ = o.owner_;
    address_ = std::move(o.address_);
    o.owner_ = nullptr;
  }
  return *this;
}

ConnectionLimiter::Lease::~Lease() {
  if (owner_ != nullptr) owner_->Release(address_);
}

ConnectionLimiter::Lease ConnectionLimiter::Acquire(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t& n = open_[address];
  if (per_address_ != 0 && n >= per_address_) return Lease();
  ++n;
  return Lease(this, address);
}

size_t ConnectionLimiter::open(const std::string& address) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(address);
  return it == open_.end() ? 0 : it->second;
}

void ConnectionLimiter::Release(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(address);
  if (it == open_.end()) return;
  if (--it->second == 0) open_.erase(it);  // the map holds only addresses with connections
}

}  // namespace oxide::server::net
