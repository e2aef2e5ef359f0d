// Reads /proc to recognise a health check's process group after a restart (see
// process_group.hpp). Linux only, like the rest of the health-check supervision.
#include "agent/process_group.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace oxide::agent {

namespace {

struct ProcStat {
  int64_t pgrp = 0;
  uint64_t start_ticks = 0;
  bool zombie = false;
};

// /proc/<pid>/stat is "pid (comm) state ppid pgrp ... starttime ..."; comm may hold spaces and
// parentheses, so fields are counted from the last ')'. pgrp is field 5, starttime field 22.
bool ReadStat(const std::string& pid_dir, ProcStat* out) {
  std::ifstream in(pid_dir + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  auto paren = line.rfind(')');
  if (paren == std::string::npos) return false;
  std::istringstream fields(line.substr(paren + 1));
  std::vector<std::string> f;
  for (std::string tok; fields >> tok;) f.push_back(tok);
  if (f.size() < 20) return false;  // f[0] is field 3 (state)
  out->zombie = f[0] == "Z" || f[0] == "X";
  auto parse = [](const std::string& s, auto* v) {
    return std::from_chars(s.data(), s.data() + s.size(), *v).ec == std::errc();
  };
  return parse(f[2], &out->pgrp) && parse(f[19], &out->start_ticks);
}

std::string BootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

}  // namespace

Result<HealthGroup> DescribeProcessGroup(int leader) {
  ProcStat st;
  if (!ReadStat("/proc/" + std::to_string(leader), &st)) {
    return NotFound("process " + std::to_string(leader) + " not found in /proc");
  }
  std::string boot = BootId();
  if (boot.empty()) return IoError("cannot read /proc/sys/kernel/random/boot_id");
  return HealthGroup{leader, st.start_ticks, boot};
}

int KillProcessGroupIfOurs(const HealthGroup& group) {
  if (group.pgid <= 1 || group.pgid == ::getpgrp()) return 0;  // never our own group
  if (group.boot_id.empty() || group.boot_id != BootId()) return 0;
  // A live process with the group's id that is not our leader means the id was reused: the
  // group is someone else's. (While any member of our group lives, the kernel does not hand the
  // id out again, so a missing leader with live members is still ours.)
  ProcStat leader;
  if (ReadStat("/proc/" + std::to_string(group.pgid), &leader) &&
      leader.start_ticks != group.start_ticks) {
    return 0;
  }
  int killed = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    int pid = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc()) continue;
    ProcStat st;
    if (!ReadStat(it->path().string(), &st) || st.zombie || st.pgrp != group.pgid) continue;
    if (st.start_ticks < group.start_ticks) continue;  // older than our leader: not ours
    struct stat owner {};
    if (::stat(it->path().c_str(), &owner) != 0 || owner.st_uid != ::geteuid()) continue;
    if (::kill(pid, SIGKILL) == 0) ++killed;
  }
  return killed;
}

}  // namespace oxide::agent
