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
  // WAL: readers never block the writer; NORMAL: durable at checkpoints, consistent always.
  OXIDE_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  OXIDE_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=NORMAL"));
  OXIDE_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  OXIDE_RETURN_IF_ERROR(db->Migrate(migrations));
  return db;
}

Db::~Db() {
  for (auto& [sql, s] : cache_) sqlite3_finalize(s);
  if (db_ != nullptr) sqlite3_close(db_);
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
  Status st = Exec("BEGIN IMMEDIATE");
  if (!st.ok()) tx_depth_ = 0;
  return st;
}

Status Db::End(bool commit) {
  if (!commit) tx_failed_ = true;
  if (--tx_depth_ > 0) return Status::Ok();
  if (tx_failed_) return Exec("ROLLBACK");
  Status st = Exec("COMMIT");
  if (!st.ok()) {
    // A failed COMMIT leaves the transaction open; roll back so the connection stays usable.
    Status ignored = Exec("ROLLBACK");
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
