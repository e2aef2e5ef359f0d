#include "server/service/instance_id.hpp"

#include <unistd.h>

#include <cstdio>
#include <random>

namespace oxide::server {

std::string DefaultInstanceId() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "oxide");
  std::random_device random;  // the kernel's generator: no seed shared between containers
  char suffix[9];
  std::snprintf(suffix, sizeof(suffix), "%08x", static_cast<unsigned>(random()));
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" + suffix;
}

}  // namespace oxide::server
