#include "server/net/connection_limiter.hpp"

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>

namespace oxide::server::net {

std::string ClientKey(const std::string& ip) {
  in6_addr v6{};
  if (ip.find(':') == std::string::npos || ::inet_pton(AF_INET6, ip.c_str(), &v6) != 1) return ip;
  char text[INET6_ADDRSTRLEN] = {};
  static constexpr uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(v6.s6_addr, kV4Mapped, sizeof kV4Mapped) == 0) {
    ::inet_ntop(AF_INET, v6.s6_addr + 12, text, sizeof text);
    return text;
  }
  std::memset(v6.s6_addr + 8, 0, 8);
  ::inet_ntop(AF_INET6, &v6, text, sizeof text);
  return std::string(text) + "/64";
}

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
