#pragma once

#include <string>

namespace oxide::server {

// "ns<inode of /proc/self/ns/pid>": which pid namespace this process's pids belong to ("" when
// /proc is not mounted). Containers sharing a hostname have pids that mean nothing to each
// other, so a pid is only judged (alive or exited) together with this tag.
std::string PidNamespaceTag();

// The name `oxide serve` holds patch-job leases under when --instance-id is not given (issue
// #12): "<hostname>:<pid>:<8 lower-case hex random>:<PidNamespaceTag()>" (without the last part
// when it is ""). Hostname and pid alone collide for replicas in containers sharing a hostname
// (each is pid 1 in its own pid namespace); the random part tells them apart, the namespace part
// lets a restarted server on the same host free the leases of its exited predecessor at once.
// A new value on every call.
std::string DefaultInstanceId();

}  // namespace oxide::server
