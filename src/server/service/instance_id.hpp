#pragma once

#include <string>

namespace oxide::server {

// The name `oxide serve` holds patch-job leases under when --instance-id is not given (issue
// #12): "<hostname>:<pid>:<8 lower-case hex random>". Hostname and pid alone collide for
// replicas in containers sharing a hostname (each is pid 1 in its own pid namespace); the
// random part tells them apart. A new value on every call.
std::string DefaultInstanceId();

}  // namespace oxide::server
