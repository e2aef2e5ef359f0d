#include "server/service/instance_id.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <random>

namespace oxide::server {

std::string PidNamespaceTag() {
  struct stat st {};
  if (::stat("/proc/self/ns/pid", &st) != 0) return "";
  return "ns" + std::to_string(static_cast<unsigned long long>(st.st_ino));
}

std::string DefaultInstanceId() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "oxide");
  std::random_device random;  // the kernel's generator: no seed shared between containers
  char suffix[9];
  std::snprintf(suffix, sizeof(suffix), "%08x", static_cast<unsigned>(random()));
  std::string id = std::string(host) + ":" + std::to_string(::getpid()) + ":" + suffix;
  const std::string ns = PidNamespaceTag();
  return ns.empty() ? id : id + ":" + ns;
}

}  // namespace oxide::server
