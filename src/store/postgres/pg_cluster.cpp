#include "store/postgres/pg_cluster.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <pqxx/pqxx>

#ifndef OXIDE_PG_THROWAWAY
#error "OXIDE_PG_THROWAWAY (the path of scripts/pg_throwaway) must be defined"
#endif

namespace oxide::testing {
namespace {

struct Cluster {
  std::string dir;
  std::string url;
  Status error;
  int watchdog_fd = -1;  // write end: its closing (exit or death) makes the watchdog stop it
  pid_t watchdog = -1;
};

Cluster& TheCluster() {
  static Cluster c;
  return c;
}

void StopAtExit() {
  Cluster& c = TheCluster();
  if (c.watchdog_fd < 0) return;
  ::close(c.watchdog_fd);  // the watchdog stops the cluster and removes the dir
  c.watchdog_fd = -1;
  int status = 0;
  ::waitpid(c.watchdog, &status, 0);
}

// Forks a process that waits for EOF on a pipe, then stops the cluster in `dir` and removes it.
// The write end is close-on-exec, so only this process holds it: the watchdog runs whether this
// process exits normally or dies.
Status StartWatchdog(Cluster& c) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return IoError("pipe for the pg watchdog failed");
  const std::string script = OXIDE_PG_THROWAWAY;
  const char* cmd = "\"$0\" stop \"$1\" >/dev/null 2>&1; rm -rf \"$1\"";
  pid_t pid = ::fork();
  if (pid < 0) return IoError("fork for the pg watchdog failed");
  if (pid == 0) {
    ::close(fds[1]);
    char buf[16];
    while (::read(fds[0], buf, sizeof(buf)) != 0) {
    }
    ::execl("/bin/sh", "sh", "-c", cmd, script.c_str(), c.dir.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[0]);
  c.watchdog_fd = fds[1];
  c.watchdog = pid;
  std::atexit(StopAtExit);
  return Status::Ok();
}

void Start(Cluster& c) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp != nullptr ? tmp : "/tmp") + "/oxide-pg-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    c.error = IoError("mkdtemp for the PostgreSQL cluster failed");
    return;
  }
  c.dir = tmpl;
  c.error = StartWatchdog(c);
  if (!c.error.ok()) return;
  const std::string cmd = std::string("\"") + OXIDE_PG_THROWAWAY + "\" start \"" + c.dir + "\"";
  FILE* out = ::popen(cmd.c_str(), "r");
  if (out == nullptr) {
    c.error = IoError("cannot run " + std::string(OXIDE_PG_THROWAWAY));
    return;
  }
  char line[512];
  std::string url;
  while (std::fgets(line, sizeof(line), out) != nullptr) url += line;
  int rc = ::pclose(out);
  while (!url.empty() && (url.back() == '\n' || url.back() == '\r')) url.pop_back();
  if (rc != 0 || url.rfind("postgresql://", 0) != 0) {
    c.error = Unavailable(
        "PostgreSQL tests need a PostgreSQL server (Debian: apt-get install postgresql); "
        "scripts/pg_throwaway start failed (see its message above)");
    return;
  }
  c.url = url;
}

}  // namespace

Result<std::string> PgClusterUrl() {
  static std::once_flag once;
  Cluster& c = TheCluster();
  std::call_once(once, [&] { Start(c); });
  if (!c.error.ok()) return c.error;
  return c.url;
}

Result<std::string> FreshPgSchemaUrl() {
  OXIDE_ASSIGN_OR_RETURN(std::string base, PgClusterUrl());
  static std::atomic<int> next{0};
  const std::string schema = "t" + std::to_string(::getpid()) + "_" + std::to_string(++next);
  OXIDE_RETURN_IF_ERROR(PgQueryOne(base, "CREATE SCHEMA " + schema).status());
  return base + "?options=-csearch_path%3D" + schema;
}

Result<std::string> PgQueryOne(const std::string& url, const std::string& sql) {
  try {
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    pqxx::result r = tx.exec(sql);
    if (r.empty() || r.columns() == 0 || r[0][0].is_null()) return std::string();
    return std::string(r[0][0].c_str());
  } catch (const std::exception& e) {
    return IoError(std::string("postgresql: ") + e.what());
  }
}

}  // namespace oxide::testing
