#pragma once

// Counts open connections per remote address so one client cannot take every connection slot
// (a flood of idle sockets from one host used to lock every other client out). Beast-free.
// Thread-safe.

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace oxide::server::net {

// The key one client is counted and rate-limited under, from its IP address text: an IPv4
// address as is (IPv4-mapped IPv6 too: "::ffff:10.0.0.1" → "10.0.0.1"), an IPv6 address by its
// /64 ("2001:db8:1:2::/64"), since one IPv6 host usually holds a whole /64 and could otherwise
// come back under 2^64 fresh keys. Anything unparseable is returned as is.
std::string ClientKey(const std::string& ip);

class ConnectionLimiter {
 public:
  // `per_address`: connections one address may hold at once; 0 = unlimited.
  explicit ConnectionLimiter(size_t per_address) : per_address_(per_address) {}
  ConnectionLimiter(const ConnectionLimiter&) = delete;
  ConnectionLimiter& operator=(const ConnectionLimiter&) = delete;

  // One slot of `address`, given back when the lease is destroyed. Empty (false) when the
  // address already holds `per_address` connections.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& o) noexcept : owner_(o.owner_), address_(std::move(o.address_)) {
      o.owner_ = nullptr;
    }
    Lease& operator=(Lease&& o) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    explicit operator bool() const { return owner_ != nullptr; }
    const std::string& address() const { return address_; }

   private:
    friend class ConnectionLimiter;
    Lease(ConnectionLimiter* owner, std::string address)
        : owner_(owner), address_(std::move(address)) {}
    ConnectionLimiter* owner_ = nullptr;
    std::string address_;
  };

  Lease Acquire(const std::string& address);
  size_t open(const std::string& address) const;  // for tests and metrics

 private:
  void Release(const std::string& address);

  const size_t per_address_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, size_t> open_;
};

}  // namespace oxide::server::net
