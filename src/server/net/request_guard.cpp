#include "server/net/request_guard.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "protocol/ids.hpp"

namespace oxide::server::net {
namespace {

constexpr std::string_view kDevicesPrefix = "/api/v1/devices/";
constexpr std::string_view kHeartbeatSuffix = "/heartbeat";

bool IsEnroll(api::Method method, std::string_view path) {
  return method == api::Method::kPost && path == "/api/v1/enroll";
}

bool IsHealth(api::Method method, std::string_view path) {
  return (method == api::Method::kGet || method == api::Method::kHead) && path == "/health";
}

}  // namespace

RequestGuard::RequestGuard(const Clock& clock, RequestGuardOptions options)
    : heartbeat_device_(clock, options.heartbeat_per_device),
      heartbeat_address_(clock, options.heartbeat_per_address),
      auth_address_(clock, options.auth_per_address) {}

std::optional<std::string_view> RequestGuard::HeartbeatDevice(api::Method method,
                                                              std::string_view path) {
  if (method != api::Method::kPost) return std::nullopt;
  if (path.size() <= kDevicesPrefix.size() + kHeartbeatSuffix.size()) return std::nullopt;
  if (path.substr(0, kDevicesPrefix.size()) != kDevicesPrefix) return std::nullopt;
  if (path.substr(path.size() - kHeartbeatSuffix.size()) != kHeartbeatSuffix) {
    return std::nullopt;
  }
  std::string_view id = path.substr(kDevicesPrefix.size(),
                                    path.size() - kDevicesPrefix.size() - kHeartbeatSuffix.size());
  if (id.find('/') != std::string_view::npos) return std::nullopt;
  return id;
}

std::optional<api::Response> RequestGuard::Admit(api::Method method, std::string_view path,
                                                 std::string_view remote) {
  if (IsHealth(method, path)) return std::nullopt;  // liveness probes are never limited
  // An address that keeps failing authentication gets nothing until its bucket refills.
  if (auto wait = auth_address_.Check(remote)) return TooManyRequests(*wait);
  if (IsEnroll(method, path)) {
    if (auto wait = auth_address_.Take(remote)) return TooManyRequests(*wait);
    return std::nullopt;
  }
  if (auto device = HeartbeatDevice(method, path)) {
    if (auto wait = heartbeat_address_.Take(remote)) return TooManyRequests(*wait);
    // Only valid ids get a bucket (a 16 KiB path must not become a key); the router refuses
    // the others anyway.
    if (!protocol::IsValidId(*device)) return std::nullopt;
    // Keyed by device and address: before the router authenticates the call, a claimed id
    // must not let another client drain the real device's bucket.
    std::string key = std::string("device:").append(*device).append("@").append(remote);
    if (auto wait = heartbeat_device_.Take(key)) {
      return TooManyRequests(*wait);
    }
  }
  return std::nullopt;
}

void RequestGuard::OnAnswered(int status, std::string_view remote) {
  if (status == 401) static_cast<void>(auth_address_.Take(remote));  // empty: already limited
}

api::Response TooManyRequests(Clock::Duration retry_after) {
  const double secs = std::chrono::duration<double>(retry_after).count();
  const long long whole = std::max(1LL, static_cast<long long>(std::ceil(secs)));
  api::Response r;
  r.status = 429;
  r.headers.emplace_back("Content-Type", "application/json");
  r.headers.emplace_back("Retry-After", std::to_string(whole));
  r.body = R"({"error":{"code":"rate_limited","message":"too many requests; retry after )" +
           std::to_string(whole) + R"( s"}})";
  return r;
}

}  // namespace oxide::server::net
