#include "store/sqlite/sqlite_db.hpp"

#include <sqlite3.h>

namespace oxide::store::sqlite {

Stmt::~Stmt() {
  if (s_ != nullptr) {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
}

Stmt& Stmt::Bind(int i, std::string_view v) {
  sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(s_, i, v);
  return *this;
}

Stmt& Stmt::BindBlob(int i, std::string_view v) {
  sqlite3_bind_blob64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT);
  return *this;
}

std::string Stmt::Blob(int col) const {
  const void* b = sqlite3_column_blob(s_, col);
  if (b == nullptr) return {};
  return std::string(static_cast<const char*>(b),
                     static_cast<size_t>(sqlite3_column_bytes(s_, col)));
}

Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(s_, i);
  return *this;
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string msg = sqlite3_errmsg(sqlite3_db_handle(s_));
  if ((rc & 0xff) == SQLITE_CONSTRAINT) return AlreadyExists("sqlite: " + msg);
  // The disk (or the database's size limit) is full: the server, not the client, is short of
  // room (HTTP 507), and the request may succeed later.
  if ((rc & 0xff) == SQLITE_FULL) return ResourceExhausted("sqlite step: " + msg);
  return IoError("sqlite step: " + msg);
}

Status Stmt::Run() {
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

std::string Stmt::Text(int col) const {
  const unsigned char* t = sqlite3_column_text(s_, col);
  if (t == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(t),
                     static_cast<size_t>(sqlite3_column_bytes(s_, col)));
}

int64_t Stmt::Int(int col) const { return sqlite3_column_int64(s_, col); }

bool Stmt::IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

Result<std::unique_ptr<Db>> Db::Open(const std::string& path,
                                     const std::vector<std::string>& migrations) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<Db> db(new Db(raw));  // owns raw even on failure
  if (rc != SQLITE_OK) return db->Error("open " + path);
  sqlite3_busy_timeout(raw, 5000);
  // WAL: readers never block the writer. NORMAL: a commit writes the WAL without syncing it,
  // so it survives the process being killed (the OS has the pages) and the database is
  // consistent after a power loss, which may take the commits since the WAL's last sync (at
  // most kCheckpointInterval old, see CheckpointLoop). FULL would sync every commit: each
  // write then waits for the disk (docs/benchmarks.md compares both).
  OXIDE_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  OXIDE_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=NORMAL"));
  OXIDE_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  OXIDE_RETURN_IF_ERROR(db->Migrate(migrations));
  if (path != ":memory:") {
    // No checkpoint (two fsyncs) inside a writer's commit: the checkpointer thread does them.
    OXIDE_RETURN_IF_ERROR(db->Exec("PRAGMA wal_autocheckpoint=0"));
    OXIDE_RETURN_IF_ERROR(db->StartCheckpointer(path));
  }
  return db;
}

Db::~Db() {
  if (ckpt_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> l(ckpt_mu_);
      ckpt_stop_ = true;
    }
    ckpt_cv_.notify_all();
    ckpt_thread_.join();
  }
  if (ckpt_db_ != nullptr) sqlite3_close(ckpt_db_);
  for (auto& [sql, s] : cache_) sqlite3_finalize(s);
  if (db_ != nullptr) sqlite3_close(db_);  // the last connection checkpoints the whole WAL
}

Status Db::StartCheckpointer(const std::string& path) {
  int rc = sqlite3_open_v2(path.c_str(), &ckpt_db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = ckpt_db_ != nullptr ? sqlite3_errmsg(ckpt_db_) : "out of memory";
    return IoError("sqlite open checkpointer " + path + ": " + msg);
  }
  sqlite3_busy_timeout(ckpt_db_, 5000);
  char* err = nullptr;
  // Checkpoints sync as the main connection's would (WAL before copying, database after).
  if (sqlite3_exec(ckpt_db_, "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0", nullptr,
                   nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return IoError("sqlite checkpointer: " + msg);
  }
  ckpt_thread_ = std::thread([this] { CheckpointLoop(); });
  return Status::Ok();
}

// PASSIVE checkpoints run beside the writers (SQLite lets one connection checkpoint while
// another appends). The next writer starts the WAL over only if, when it began, every frame was
// copied; under steady writes frames are appended while the pass runs, so that never holds (the
// pass itself usually reports all *its* frames copied): the WAL grew without bound, ~130 MB/s
// under the heartbeat bench, filling the disk and lengthening recovery (every write also landed
// on new file pages the kernel zeroes first, though bounding the WAL measured no CPU saving:
// docs/benchmarks.md). So once it is large, the frames
// appended meanwhile are copied while mu() keeps this process's writers out, and the next write
// restarts the WAL, which then stays at about one interval's worth of frames.
void Db::CheckpointLoop() {
  std::unique_lock<std::mutex> l(ckpt_mu_);
  while (!ckpt_stop_) {
    ckpt_cv_.wait_for(l, kCheckpointInterval, [this] { return ckpt_stop_; });
    if (ckpt_stop_) break;
    l.unlock();
    int frames = 0;
    int copied = 0;
    int rc =
        sqlite3_wal_checkpoint_v2(ckpt_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
    if (rc == SQLITE_OK && frames >= kWalRestartFrames) {
      // A second unlocked pass first: it copies (and syncs) what was appended during the
      // first, so the locked pass below has only the last few frames to copy and sync, and
      // the writers wait for that only.
      rc =
          sqlite3_wal_checkpoint_v2(ckpt_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
      std::lock_guard<std::recursive_mutex> writers(mu_);
      rc =
          sqlite3_wal_checkpoint_v2(ckpt_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
    }
    (void)rc;  // a failed checkpoint is retried next round; writers are unaffected
    l.lock();
  }
}

Status Db::RunCached(const char* sql) {
  OXIDE_ASSIGN_OR_RETURN(Stmt s, Prepare(sql));
  return s.Run();
}

Status Db::Savepoint(const std::function<Status()>& fn) {
  const bool failed_before = tx_failed_;
  OXIDE_RETURN_IF_ERROR(RunCached("SAVEPOINT oxide_sp"));
  auto undo = [&] {
    tx_failed_ = failed_before;
    Status rb = RunCached("ROLLBACK TO oxide_sp");
    Status rel = RunCached("RELEASE oxide_sp");
    if (!rb.ok() || !rel.ok()) tx_failed_ = true;  // cannot undo just this part: undo it all
  };
  Status st = Status::Ok();
  try {
    st = fn();
  } catch (...) {
    undo();  // fn's writes only; the exception goes on to the caller
    throw;
  }
  if (st.ok() && tx_failed_ && !failed_before) {
    st = Internal("a write inside the savepoint failed; its writes were undone");
  }
  if (st.ok()) {
    Status rel = RunCached("RELEASE oxide_sp");
    if (rel.ok()) return rel;
    st = std::move(rel);
  }
  undo();
  return st;
}

Status Db::Error(std::string_view what) const {
  return IoError("sqlite " + std::string(what) + ": " +
                 (db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory"));
}

Status Db::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string msg = err != nullptr ? err : "unknown error";
  sqlite3_free(err);
  if ((rc & 0xff) == SQLITE_FULL) return ResourceExhausted("sqlite exec: " + msg);
  return IoError("sqlite exec: " + msg);
}

Result<Stmt> Db::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Stmt(it->second);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &s, nullptr) !=
      SQLITE_OK) {
    return Error("prepare '" + sql + "'");
  }
  cache_.emplace(sql, s);
  return Stmt(s);
}

int64_t Db::Changes() const { return sqlite3_changes(db_); }

int64_t Db::LastInsertId() const { return sqlite3_last_insert_rowid(db_); }

Status Db::Begin() {
  if (tx_depth_++ > 0) return Status::Ok();
  tx_failed_ = false;
  Status st = RunCached("BEGIN IMMEDIATE");
  if (!st.ok()) tx_depth_ = 0;
  return st;
}

Status Db::End(bool commit) {
  if (!commit) tx_failed_ = true;
  if (--tx_depth_ > 0) return Status::Ok();
  if (tx_failed_) return RunCached("ROLLBACK");
  Status st = RunCached("COMMIT");
  if (!st.ok()) {
    // A failed COMMIT leaves the transaction open; roll back so the connection stays usable.
    Status ignored = RunCached("ROLLBACK");
    (void)ignored;  // the COMMIT error is the one worth reporting
  }
  return st;
}

Status Db::Migrate(const std::vector<std::string>& migrations) {
  OXIDE_RETURN_IF_ERROR(
      Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
           "applied_at INTEGER NOT NULL DEFAULT (strftime('%s','now')))"));
  {
    OXIDE_ASSIGN_OR_RETURN(Stmt q,
                           Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    schema_version_ = row ? static_cast<int>(q.Int(0)) : 0;
  }
  if (schema_version_ > static_cast<int>(migrations.size())) {
    return FailedPrecondition("database schema version " + std::to_string(schema_version_) +
                              " is newer than this binary (" + std::to_string(migrations.size()) +
                              ")");
  }
  for (size_t i = static_cast<size_t>(schema_version_); i < migrations.size(); ++i) {
    OXIDE_RETURN_IF_ERROR(Begin());
    Status st = Exec(migrations[i]);
    if (st.ok()) {
      st = Exec("INSERT INTO schema_migrations(version) VALUES (" + std::to_string(i + 1) + ")");
    }
    OXIDE_RETURN_IF_ERROR(End(st.ok()));
    OXIDE_RETURN_IF_ERROR(std::move(st).WithContext("migration " + std::to_string(i + 1)));
    schema_version_ = static_cast<int>(i + 1);
  }
  return Status::Ok();
}

}  // namespace oxide::store::sqlite
