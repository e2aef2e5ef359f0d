#include "agent/health_check.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <system_error>
#include <vector>

#include "agent/model_check.hpp"
#include "base/stop_flag.hpp"

extern char** environ;

namespace oxide::agent {

Result<HealthReport> BuiltinHealthChecker::Check(const HealthCheckRequest& request) {
  Status st = VerifyModelFile(request.model_path, request.sha256, request.size_bytes, {},
                              request.at_rest_key);
  if (!st.ok()) return HealthReport{false, st.ToString()};
  if (request.at_rest_key != nullptr) {
    return HealthReport{true, "built-in check: decrypted, every chunk authenticated, SHA-256 ok"};
  }
  return HealthReport{true, "built-in check: SHA-256 and format ok"};
}

namespace {

// Owns a pipe fd pair; closes what is left open.
struct Pipe {
  int fds[2] = {-1, -1};
  ~Pipe() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
};

std::vector<std::string> ChildEnvironment(const HealthCheckRequest& r) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    if (kv.starts_with("OXIDE_MODEL_") || kv.starts_with("OXIDE_ENCRYPTION_KEY_FILE=")) continue;
    env.emplace_back(kv);
  }
  if (r.at_rest_key != nullptr) {
    env.push_back("OXIDE_MODEL_ENCRYPTED=1");
    env.push_back("OXIDE_ENCRYPTION_KEY_FILE=" + r.at_rest_key_file);
  }
  env.push_back("OXIDE_MODEL_PATH=" + r.model_path);
  env.push_back("OXIDE_MODEL_ID=" + r.model_id);
  env.push_back("OXIDE_MODEL_VERSION=" + r.version);
  return env;
}

// Reads what is available from `fd` into `out`, keeping the last kMaxOutput bytes (the end of
// the output says why a check failed); returns false at EOF.
bool DrainSome(int fd, std::string& out) {
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  out.append(buf, static_cast<size_t>(n));
  if (out.size() > CommandHealthChecker::kMaxOutput) {
    out.erase(0, out.size() - CommandHealthChecker::kMaxOutput);
  }
  return true;
}

// Processes below `root`, from /proc (<pid>/stat: "pid (comm) state ppid ...").
std::vector<pid_t> Descendants(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    pid_t pid = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc()) continue;
    std::ifstream in(it->path() / "stat");
    std::string stat;
    std::getline(in, stat);
    auto paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 4 >= stat.size()) continue;
    pid_t ppid = 0;
    const char* p = stat.data() + paren + 4;  // skip ") S "
    std::from_chars(p, stat.data() + stat.size(), ppid);
    children.emplace(ppid, pid);
  }
  std::vector<pid_t> out, frontier{root};
  while (!frontier.empty() && out.size() <= children.size()) {  // bound: a racy scan may loop
    pid_t parent = frontier.back();
    frontier.pop_back();
    auto [b, e] = children.equal_range(parent);
    for (auto it = b; it != e; ++it) {
      out.push_back(it->second);
      frontier.push_back(it->second);
    }
  }
  return out;
}

// Kills and reaps every descendant of this process: the check's leftovers, re-parented to us
// (child subreaper) even when they left the check's process group. Bounded by `deadline`.
void KillLeftovers(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    std::vector<pid_t> left = Descendants(::getpid());
    if (left.empty() || std::chrono::steady_clock::now() >= deadline) return;
    for (pid_t pid : left) ::kill(pid, SIGKILL);
    ::poll(nullptr, 0, 5);
  }
}

HealthReport CannotRun(const std::string& what, int err) {
  HealthReport r;
  r.detail = "cannot run the health check: " + what + ": " + strerror(err);
  r.local_fault = true;
  return r;
}

}  // namespace

Result<HealthReport> CommandHealthChecker::Check(const HealthCheckRequest& request) {
  // Orphans of the check are re-parented to us instead of init, so none escapes the kill.
  // Best effort: without it (old kernels) the process group kill still applies.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  Pipe out;
  if (::pipe2(out.fds, O_CLOEXEC) != 0) return CannotRun("pipe", errno);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out.fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out.fds[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);  // AgentMain blocks SIGTERM/SIGINT in all threads
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);  // own process group, so a timeout kills all of it
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> env = ChildEnvironment(request);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command_;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return CannotRun("posix_spawn /bin/sh", rc);
  if (request.on_started) request.on_started(pid);  // the group id is the leader's pid
  ::close(out.fds[1]);
  out.fds[1] = -1;

  auto deadline = std::chrono::steady_clock::now() + timeout_;
  std::string output;
  bool timed_out = false, cancelled = false, eof = false;
  int wstatus = 0;
  for (;;) {
    pid_t w = ::waitpid(pid, &wstatus, WNOHANG);
    if (w == pid) break;
    if (stop_ != nullptr && stop_->requested()) cancelled = true;
    if (std::chrono::steady_clock::now() >= deadline) timed_out = true;
    if (cancelled || timed_out) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &wstatus, 0);
      break;
    }
    if (eof) {
      struct pollfd none_fd {};
      ::poll(&none_fd, 0, 50);
      continue;
    }
    struct pollfd p {
      out.fds[0], POLLIN, 0
    };
    if (::poll(&p, 1, 50) > 0) eof = !DrainSome(out.fds[0], output);
  }
  // Stragglers (background jobs of the command) die with the group, escaped ones as
  // descendants; then read what is left, for a bounded time (the fd is closed on return).
  ::kill(-pid, SIGKILL);
  auto drain_deadline = std::chrono::steady_clock::now() + kDrainTime;
  KillLeftovers(drain_deadline);
  while (!eof) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        drain_deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    struct pollfd p {
      out.fds[0], POLLIN, 0
    };
    if (::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 200))) <= 0) break;
    eof = !DrainSome(out.fds[0], output);
  }
  if (cancelled) return Cancelled("health check interrupted: agent stopping");
  HealthReport report;
  if (timed_out) {
    report.detail = "health check timed out after " + std::to_string(timeout_.count()) + " ms";
  } else if (WIFEXITED(wstatus)) {
    const int code = WEXITSTATUS(wstatus);
    report.exit_status = code;
    report.healthy = code == 0;
    report.detail = "health check exited " + std::to_string(code);
    if (code == 126 || code == 127) {
      // sh could not execute (126) or find (127) the command: nothing was checked, so it says
      // nothing about the model.
      report.local_fault = true;
      report.detail = "exit status " + std::to_string(code) +
                      (code == 127 ? " (command not found)" : " (command not executable)");
    }
  } else {
    report.detail = "health check killed by signal " + std::to_string(WTERMSIG(wstatus));
  }
  if (!output.empty()) report.detail += ": " + output;
  report.output = std::move(output);
  return report;
}

}  // namespace oxide::agent
