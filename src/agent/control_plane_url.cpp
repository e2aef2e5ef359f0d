#include "agent/control_plane_url.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace oxide::agent {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string UrlHost(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "";
  std::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  if (StartsWith(rest, "[")) {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return "";
    return Lower(rest.substr(1, close - 1));
  }
  return Lower(rest.substr(0, rest.find(':')));
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  const std::string h(host);
  in_addr v4{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, h.c_str(), &v6) != 1) return false;
  if (std::memcmp(&v6, &in6addr_loopback, sizeof v6) == 0) return true;
  static constexpr uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(v6.s6_addr, kV4Mapped, sizeof kV4Mapped) == 0 && v6.s6_addr[12] == 127;
}

Status CheckControlPlaneUrl(std::string_view url, bool allow_http) {
  const std::string lower = Lower(url.substr(0, 8));
  const bool https = StartsWith(lower, "https://");
  if (!https && !StartsWith(lower, "http://")) {
    return InvalidArgument("--control-plane must be an https:// (or http://) URL, got '" +
                           std::string(url.substr(0, 128)) + "'");
  }
  const std::string host = UrlHost(url);
  if (host.empty()) {
    return InvalidArgument("--control-plane has no host: '" + std::string(url.substr(0, 128)) +
                           "'");
  }
  if (https || allow_http || IsLoopbackHost(host)) return Status::Ok();
  return InvalidArgument("refusing plain HTTP to " + host +
                         ": anyone on the network could read and change updates; use https:// "
                         "(with --ca-file for a private CA) or pass --allow-http");
}

}  // namespace oxide::agent
