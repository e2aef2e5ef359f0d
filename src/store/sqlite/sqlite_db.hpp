#pragma once

// Thin RAII adapter over the sqlite3 C API: one connection, cached prepared statements,
// migrations. The only place besides sqlite_*.cpp that knows SQLite exists.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace oxide::store::sqlite {

// A borrowed, cached prepared statement. Reset (and its bindings cleared) on destruction, so
// it can be reused by the next caller. Valid while the Db lives; use under Db::mu().
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  Stmt(Stmt&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  ~Stmt();

  // Bind by 1-based index.
  Stmt& Bind(int i, std::string_view v);
  Stmt& Bind(int i, int64_t v);
  Stmt& BindU64(int i, uint64_t v) { return Bind(i, static_cast<int64_t>(v)); }
  Stmt& BindNull(int i);
  Stmt& BindBlob(int i, std::string_view v);

  // true: a row is available; false: done. kIo on error (kAlreadyExists on a constraint).
  Result<bool> Step();
  // Steps until done.
  Status Run();

  std::string Text(int col) const;
  std::string Blob(int col) const;
  int64_t Int(int col) const;
  uint64_t U64(int col) const { return static_cast<uint64_t>(Int(col)); }
  bool IsNull(int col) const;

 private:
  sqlite3_stmt* s_;
};

class Db {
 public:
  // Opens (creating) `path` (":memory:" allowed) with WAL, synchronous=NORMAL, busy timeout and
  // foreign keys, then applies `migrations` not yet recorded in schema_migrations (each in its own
  // transaction, version = index + 1).
  // A file database is checkpointed by a background thread on its own connection, never by a
  // commit: a commit only appends to the WAL (no fsync), so a writer's latency does not depend
  // on how fast the disk syncs (docs/benchmarks.md, "Heartbeat capacity"). The checkpointer
  // syncs the WAL at least every kCheckpointInterval, which bounds what a power loss can take.
  static Result<std::unique_ptr<Db>> Open(const std::string& path,
                                          const std::vector<std::string>& migrations);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  Status Exec(const std::string& sql);
  // Prepared once per SQL text and cached for the connection's lifetime.
  Result<Stmt> Prepare(const std::string& sql);
  int64_t Changes() const;
  // Rowid of the last INSERT on this connection (call under mu(), right after it).
  int64_t LastInsertId() const;
  int SchemaVersion() const { return schema_version_; }

  // Guards the connection. Recursive so that a transaction can call store methods.
  std::recursive_mutex& mu() { return mu_; }

  // Transaction nesting: only the outermost Begin/End talks to SQLite.
  Status Begin();
  Status End(bool commit);

  // Runs fn as a savepoint of the open transaction (REQUIRES: under mu(), inside Begin/End):
  // its writes are undone if it fails (or if a nested End(false) marked it failed), and the
  // enclosing transaction goes on either way.
  Status Savepoint(const std::function<Status()>& fn);
  bool InTransaction() const { return tx_depth_ > 0; }  // under mu()

  static constexpr std::chrono::milliseconds kCheckpointInterval{1000};
  // WAL frames (pages) beyond which the checkpointer briefly holds mu() to copy the last
  // frames, so that the next write restarts the WAL instead of growing it under steady load.
  static constexpr int kWalRestartFrames = 4096;  // 16 MiB with 4 KiB pages

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  Status Migrate(const std::vector<std::string>& migrations);
  Status Error(std::string_view what) const;
  Status StartCheckpointer(const std::string& path);
  void CheckpointLoop();
  Status RunCached(const char* sql);  // a statement without results, prepared once

  sqlite3* db_;
  std::recursive_mutex mu_;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
  int tx_depth_ = 0;
  bool tx_failed_ = false;
  int schema_version_ = 0;

  // The checkpointer (file databases only): its own connection and thread.
  sqlite3* ckpt_db_ = nullptr;
  std::thread ckpt_thread_;
  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  bool ckpt_stop_ = false;
};

}  // namespace oxide::store::sqlite
