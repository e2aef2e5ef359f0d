#pragma once

// The PostgreSQL connection layer: a bounded pool of libpqxx connections, statements prepared
// once per connection, and transactions bound to the calling thread. The only place besides
// pg_db.cpp that knows how statements reach the server; libpqxx itself stays inside pg_db.cpp.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace oxide::store::postgres {

struct PoolOptions {
  size_t max_connections = 8;  // open at once; more callers wait for a free one
  std::chrono::milliseconds acquire_timeout{30'000};  // then kUnavailable
  int connect_timeout_s = 5;  // libpq connect_timeout, unless the URL sets one
};

// Positional parameters ($1, $2, ...) of one statement, as text. Values never enter the SQL.
class Params {
 public:
  // Text. PostgreSQL text holds neither NUL nor invalid UTF-8: both become U+FFFD.
  Params& Add(std::string_view v);
  Params& Add(const char* v) { return Add(std::string_view(v)); }
  Params& Add(const std::string& v) { return Add(std::string_view(v)); }
  Params& Add(int64_t v);
  // Stored in a BIGINT as its two's complement (as the SQLite store does).
  Params& AddU64(uint64_t v) { return Add(static_cast<int64_t>(v)); }
  Params& AddNull();
  // A LIMIT: beyond INT64_MAX means no limit (NULL), as SQLite's negative LIMIT does.
  Params& AddLimit(size_t n) {
    return n > static_cast<size_t>(INT64_MAX) ? AddNull() : Add(static_cast<int64_t>(n));
  }
  // Binary data as hex: the SQL decodes it with decode($n, 'hex').
  Params& AddBytes(std::string_view v);
  size_t size() const { return values_.size(); }
  // "$<n>" of the parameter just added.
  std::string Last() const { return "$" + std::to_string(values_.size()); }
  const std::vector<std::optional<std::string>>& values() const { return values_; }

 private:
  std::vector<std::optional<std::string>> values_;
};

// A statement's result, copied out of libpq (rows are small in this store).
class Rows {
 public:
  size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }
  uint64_t affected() const { return affected_; }
  bool IsNull(size_t row, int col) const { return !Cell(row, col).has_value(); }
  std::string Text(size_t row, int col) const { return Cell(row, col).value_or(""); }
  int64_t Int(size_t row, int col) const;
  uint64_t U64(size_t row, int col) const { return static_cast<uint64_t>(Int(row, col)); }
  // A column selected as encode(x, 'hex').
  std::string Bytes(size_t row, int col) const;

  // Filled by Db.
  std::vector<std::vector<std::optional<std::string>>> rows_;
  uint64_t affected_ = 0;

 private:
  const std::optional<std::string>& Cell(size_t row, int col) const {
    return rows_[row][static_cast<size_t>(col)];
  }
};

// Fixed keys of pg_advisory_xact_lock: 'oxid' in the high half, the purpose in the low one.
inline constexpr int64_t kTransactionLockKey = (int64_t{0x6f786964} << 32) | 1;
inline constexpr int64_t kEventLogLockKey = (int64_t{0x6f786964} << 32) | 2;
inline constexpr int64_t kMigrationLockKey = (int64_t{0x6f786964} << 32) | 3;

class Db {
 public:
  // Connects once (kIo with the server's reason when it cannot), then applies `migrations` not
  // yet recorded in schema_migrations, each in its own transaction under kMigrationLockKey (so
  // replicas starting together migrate once). kFailedPrecondition when the database's schema
  // is newer than `migrations`.
  static Result<std::unique_ptr<Db>> Open(const std::string& url, const PoolOptions& options,
                                          const std::vector<std::string>& migrations);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one statement: on the calling thread's transaction when it has one, otherwise on a
  // pooled connection in autocommit mode. Errors: kAlreadyExists on unique violations,
  // kResourceExhausted when the server is out of disk or memory, kUnavailable on serialisation
  // failures and deadlocks, kIo otherwise (a lost connection is dropped from the pool).
  Result<Rows> Exec(const std::string& sql, const Params& params = {});

  // BEGIN (READ COMMITTED), pg_advisory_xact_lock(lock_key) when non-zero, fn, COMMIT; fn's
  // statements run on this transaction's connection, bound to the calling thread. Nested calls
  // join the outer transaction (the lock is already held by then). When fn fails or any of its
  // statements failed, everything is rolled back and that error returned.
  Status InTransaction(int64_t lock_key, const std::function<Status()>& fn);
  // A savepoint of the calling thread's transaction (fn's writes undone when it fails, the
  // transaction goes on); outside a transaction, InTransaction(kTransactionLockKey, fn).
  Status InSavepoint(const std::function<Status()>& fn);
  bool InTransactionOnThisThread() const;

  int SchemaVersion() const;
  // For tests: the server process id of the calling thread's transaction connection (0 outside).
  int BackendPid() const;

  struct Impl;

 private:
  explicit Db(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The URL with its password (userinfo or password= parameter) replaced by "***": safe to log.
std::string RedactUrl(std::string_view url);

}  // namespace oxide::store::postgres
