#pragma once

// Which control-plane URLs the agent accepts. The channel carries every assignment and
// download: over plain HTTP anyone on the path can read and rewrite it, so http:// is accepted
// only to this machine (loopback) unless the operator says --allow-http.

#include <string>
#include <string_view>

#include "base/status.hpp"

namespace oxide::agent {

// The host of an http(s) URL, lower-case, without brackets, user info or port ("" when none).
std::string UrlHost(std::string_view url);

// True for "localhost", 127.0.0.0/8 and ::1 (IPv4-mapped 127/8 too).
bool IsLoopbackHost(std::string_view host);

// OK for https:// URLs, and for http:// ones to a loopback host or when `allow_http`.
// kInvalidArgument (one line saying what to do) for another scheme, a missing host, or plain
// HTTP to another host without `allow_http`.
Status CheckControlPlaneUrl(std::string_view url, bool allow_http);

}  // namespace oxide::agent
