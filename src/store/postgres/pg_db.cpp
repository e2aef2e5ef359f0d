#include "store/postgres/pg_db.hpp"

#include <condition_variable>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "base/log.hpp"

namespace oxide::store::postgres {

// ---- parameters and rows ---------------------------------------------------------------

namespace {

// Length of the valid UTF-8 sequence at s[i], 0 when it is not one (overlong forms, surrogates
// and code points above U+10FFFF included).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c >= 0x01 && c < 0x80) return 1;
  size_t n = c >= 0xc2 && c <= 0xdf   ? 2
             : c >= 0xe0 && c <= 0xef ? 3
             : c >= 0xf0 && c <= 0xf4 ? 4
                                      : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
  }
  if (c == 0xe0 && b(i + 1) < 0xa0) return 0;   // overlong
  if (c == 0xed && b(i + 1) >= 0xa0) return 0;  // surrogate
  if (c == 0xf0 && b(i + 1) < 0x90) return 0;   // overlong
  if (c == 0xf4 && b(i + 1) >= 0x90) return 0;  // above U+10FFFF
  return n;
}

}  // namespace

Params& Params::Add(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size();) {
    size_t n = Utf8SequenceLength(v, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD
      ++i;
    } else {
      out.append(v.substr(i, n));
      i += n;
    }
  }
  values_.emplace_back(std::move(out));
  return *this;
}

Params& Params::Add(int64_t v) {
  values_.emplace_back(std::to_string(v));
  return *this;
}

Params& Params::AddNull() {
  values_.emplace_back(std::nullopt);
  return *this;
}

Params& Params::AddBytes(std::string_view v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(v.size() * 2);
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    hex += kHex[c >> 4];
    hex += kHex[c & 0xf];
  }
  values_.emplace_back(std::move(hex));
  return *this;
}

int64_t Rows::Int(size_t row, int col) const {
  const auto& c = Cell(row, col);
  if (!c || c->empty()) return 0;
  return std::strtoll(c->c_str(), nullptr, 10);
}

std::string Rows::Bytes(size_t row, int col) const {
  const std::string hex = Text(row, col);
  auto nibble = [](char h) {
    return static_cast<unsigned>(h >= 'a' ? h - 'a' + 10 : h >= 'A' ? h - 'A' + 10 : h - '0');
  };
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<char>((nibble(hex[2 * i]) << 4) | nibble(hex[2 * i + 1]));
  }
  return out;
}

// ---- URLs ------------------------------------------------------------------------------

std::string RedactUrl(std::string_view url) {
  std::string out(url);
  // scheme://user:password@host
  size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    size_t start = scheme + 3;
    size_t at = out.find('@', start);
    size_t slash = out.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=... as a URL parameter or a conninfo keyword
  for (size_t pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    size_t value = pos + 9;
    size_t end = out.find_first_of("& ", value);
    out.replace(value, (end == std::string::npos ? out.size() : end) - value, "***");
  }
  return out;
}

// ---- connections -----------------------------------------------------------------------

namespace {

struct Conn {
  std::unique_ptr<pqxx::connection> c;
  std::unordered_set<std::string> prepared;  // statement names prepared on this connection
  bool broken = false;
};

struct TxState {
  std::unique_ptr<Conn> conn;
  Status failed;  // the first statement error: the server has aborted the transaction
  int savepoints = 0;
};

// First line of a libpqxx message, without the "ERROR:  " prefix libpq adds.
std::string Reason(const char* what) {
  std::string s(what);
  if (s.rfind("ERROR:  ", 0) == 0) s.erase(0, 8);
  size_t nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

bool IsRead(const std::string& sql) { return sql.rfind("SELECT", 0) == 0; }

}  // namespace

struct Db::Impl {
  std::string conninfo;
  std::string redacted;
  PoolOptions options;

  std::mutex pool_mu;
  std::condition_variable pool_cv;
  std::vector<std::unique_ptr<Conn>> idle;
  size_t open = 0;  // idle + lent out

  std::mutex names_mu;
  std::unordered_map<std::string, std::string> names;  // SQL text -> prepared statement name

  mutable std::mutex tx_mu;
  // A thread's open transaction. Nodes are stable: only the owning thread inserts, reads through
  // the pointer and erases its own entry.
  std::unordered_map<std::thread::id, TxState> txs;

  int schema_version = 0;

  Result<std::unique_ptr<Conn>> Connect() {
    try {
      auto conn = std::make_unique<Conn>();
      conn->c = std::make_unique<pqxx::connection>(conninfo);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      // A lost connection is dropped from the pool, never silently reopened mid-transaction.
      conn->c->inhibit_reactivation(true);
#pragma GCC diagnostic pop
      return conn;
    } catch (const std::exception& e) {
      return IoError("postgresql: cannot connect to " + redacted + ": " + Reason(e.what()));
    }
  }

  Result<std::unique_ptr<Conn>> Acquire() {
    std::unique_lock lock(pool_mu);
    const auto deadline = std::chrono::steady_clock::now() + options.acquire_timeout;
    while (true) {
      if (!idle.empty()) {
        auto c = std::move(idle.back());
        idle.pop_back();
        return c;
      }
      if (open < options.max_connections) {
        ++open;
        lock.unlock();
        auto c = Connect();
        if (!c.ok()) {
          lock.lock();
          --open;
          pool_cv.notify_one();
        }
        return c;
      }
      if (pool_cv.wait_until(lock, deadline) == std::cv_status::timeout && idle.empty() &&
          open >= options.max_connections) {
        return Unavailable("postgresql: no free connection after " +
                           std::to_string(options.acquire_timeout.count()) + " ms (pool of " +
                           std::to_string(options.max_connections) + ")");
      }
    }
  }

  void Release(std::unique_ptr<Conn> c) {
    std::lock_guard lock(pool_mu);
    if (c->broken || !c->c->is_open()) {
      // The server went away or killed this backend: the idle ones are likely gone too (a
      // restart). Reconnect on demand rather than fail once per stale connection.
      log::Warn("postgresql connection lost; the pool reconnects on demand",
                {{"database", redacted}, {"dropped_idle", idle.size()}});
      open -= 1 + idle.size();
      idle.clear();
    } else {
      idle.push_back(std::move(c));
    }
    pool_cv.notify_all();
  }

  std::string NameOf(const std::string& sql) {
    std::lock_guard lock(names_mu);
    auto it = names.find(sql);
    if (it != names.end()) return it->second;
    std::string name = "oxide_" + std::to_string(names.size() + 1);
    names.emplace(sql, name);
    return name;
  }

  // One statement on `c`. Statements with parameters are prepared once per connection.
  Result<Rows> Run(Conn& c, const std::string& sql, const Params& params) {
    try {
      pqxx::nontransaction tx(*c.c);
      pqxx::result res;
      if (params.size() == 0) {
        res = tx.exec(sql);
      } else {
        const std::string name = NameOf(sql);
        // Recorded only once prepare() returned: a throw would otherwise leave the name recorded
        // and the statement unprepared, failing this SQL on this connection for good.
        if (c.prepared.count(name) == 0) {
          c.c->prepare(name, sql);
          c.prepared.insert(name);
        }
        std::vector<const char*> values;
        values.reserve(params.size());
        for (const auto& v : params.values()) values.push_back(v ? v->c_str() : nullptr);
        res = tx.exec_prepared(name, pqxx::prepare::make_dynamic_params(values));
      }
      Rows out;
      out.affected_ = static_cast<uint64_t>(res.affected_rows());
      out.rows_.reserve(res.size());
      const auto cols = static_cast<size_t>(res.columns());
      for (const auto& row : res) {
        std::vector<std::optional<std::string>> r;
        r.reserve(cols);
        for (const auto& f : row) {
          if (f.is_null()) {
            r.emplace_back(std::nullopt);
          } else {
            r.emplace_back(std::string(f.c_str(), f.size()));
          }
        }
        out.rows_.push_back(std::move(r));
      }
      return out;
    } catch (const pqxx::broken_connection& e) {
      c.broken = true;
      return IoError("postgresql: connection lost: " + Reason(e.what()));
    } catch (const pqxx::in_doubt_error& e) {
      c.broken = true;
      return IoError("postgresql: commit outcome unknown: " + Reason(e.what()));
    } catch (const pqxx::sql_error& e) {
      const std::string state = e.sqlstate();
      const std::string msg = "postgresql: " + Reason(e.what());
      if (!c.c->is_open() || state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0) {
        c.broken = true;
        return IoError(msg);
      }
      if (state == "23505") return AlreadyExists(msg);
      if (state.rfind("53", 0) == 0) return ResourceExhausted(msg);
      if (state == "40001" || state == "40P01") return Unavailable(msg);
      return IoError(msg);
    } catch (const std::exception& e) {
      if (!c.c->is_open()) c.broken = true;
      return IoError("postgresql: " + Reason(e.what()));
    }
  }

  TxState* CurrentTx() {
    std::lock_guard lock(tx_mu);
    auto it = txs.find(std::this_thread::get_id());
    return it == txs.end() ? nullptr : &it->second;
  }
};

Db::Db(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Db::~Db() = default;

Result<Rows> Db::Exec(const std::string& sql, const Params& params) {
  if (TxState* tx = impl_->CurrentTx()) {
    if (!tx->failed.ok()) {
      return Status(tx->failed.code(), "transaction aborted by: " + tx->failed.message());
    }
    auto r = impl_->Run(*tx->conn, sql, params);
    if (!r.ok()) tx->failed = r.status();
    return r;
  }
  for (int attempt = 0;; ++attempt) {
    OXIDE_ASSIGN_OR_RETURN(auto conn, impl_->Acquire());
    auto r = impl_->Run(*conn, sql, params);
    const bool broken = conn->broken;
    impl_->Release(std::move(conn));
    // A read on a connection the server had already closed is retried once, on a new one.
    if (broken && attempt == 0 && IsRead(sql)) continue;
    return r;
  }
}

Status Db::InTransaction(int64_t lock_key, const std::function<Status()>& fn) {
  if (impl_->CurrentTx() != nullptr) return fn();  // nested: join
  OXIDE_ASSIGN_OR_RETURN(auto conn, impl_->Acquire());
  TxState* tx = nullptr;
  {
    std::lock_guard lock(impl_->tx_mu);
    tx = &impl_->txs[std::this_thread::get_id()];
    tx->conn = std::move(conn);
  }
  // One round trip: the key is a compile-time constant of this file, not a value.
  Status st = Exec(lock_key == 0 ? std::string("BEGIN ISOLATION LEVEL READ COMMITTED")
                                 : "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT "
                                   "pg_advisory_xact_lock(" +
                                       std::to_string(lock_key) + ")")
                  .status();
  // Ends the transaction (COMMIT when st is OK, else ROLLBACK), and gives the connection back.
  auto finish = [&](Status outcome) -> Status {
    if (outcome.ok() && !tx->failed.ok()) outcome = tx->failed;  // fn ignored a failed statement
    if (outcome.ok()) {
      outcome = Exec("COMMIT").status();
    } else if (!tx->conn->broken) {
      auto rolled_back = impl_->Run(*tx->conn, "ROLLBACK", Params());
      static_cast<void>(rolled_back);  // fn's error is the one worth reporting
    }
    std::unique_ptr<Conn> done;
    {
      std::lock_guard lock(impl_->tx_mu);
      done = std::move(tx->conn);
      impl_->txs.erase(std::this_thread::get_id());
    }
    impl_->Release(std::move(done));
    return outcome;
  };
  if (st.ok()) {
    try {
      st = fn();
    } catch (...) {
      // Not left open on this thread's connection (the next transaction here would join it):
      // rolled back and released, then the exception goes on to the caller's handler.
      static_cast<void>(finish(Internal("exception inside the transaction")));
      throw;
    }
  }
  return finish(std::move(st));
}

Status Db::InSavepoint(const std::function<Status()>& fn) {
  TxState* tx = impl_->CurrentTx();
  if (tx == nullptr) return InTransaction(kTransactionLockKey, fn);
  const std::string name = "oxide_sp" + std::to_string(++tx->savepoints);
  auto finish = [&](Status outcome) -> Status {
    if (outcome.ok() && !tx->failed.ok()) outcome = tx->failed;
    if (outcome.ok()) {
      outcome = Exec("RELEASE SAVEPOINT " + name).status();
    } else if (!tx->conn->broken) {
      // Undo fn's writes; the transaction itself is usable again.
      auto rb = impl_->Run(*tx->conn, "ROLLBACK TO SAVEPOINT " + name, Params());
      tx->failed = rb.status();
    }
    --tx->savepoints;
    return outcome;
  };
  Status st = Exec("SAVEPOINT " + name).status();
  if (st.ok()) {
    try {
      st = fn();
    } catch (...) {
      static_cast<void>(finish(Internal("exception inside the savepoint")));  // fn's undone
      throw;
    }
  }
  return finish(std::move(st));
}

bool Db::InTransactionOnThisThread() const {
  std::lock_guard lock(impl_->tx_mu);
  return impl_->txs.count(std::this_thread::get_id()) > 0;
}

int Db::SchemaVersion() const { return impl_->schema_version; }

int Db::BackendPid() const {
  std::lock_guard lock(impl_->tx_mu);
  auto it = impl_->txs.find(std::this_thread::get_id());
  return it == impl_->txs.end() ? 0 : it->second.conn->c->backendpid();
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& url, const PoolOptions& options,
                                     const std::vector<std::string>& migrations) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (impl->options.max_connections == 0) impl->options.max_connections = 1;
  impl->redacted = RedactUrl(url);
  impl->conninfo = url;
  if (url.find("connect_timeout=") == std::string::npos) {
    impl->conninfo += url.find('?') == std::string::npos ? "?" : "&";
    impl->conninfo += "connect_timeout=" + std::to_string(options.connect_timeout_s);
  }
  std::unique_ptr<Db> db(new Db(std::move(impl)));
  {
    // Fail fast, with the server's reason, when it cannot be reached.
    OXIDE_ASSIGN_OR_RETURN(auto first, db->impl_->Acquire());
    db->impl_->Release(std::move(first));
  }
  const int known = static_cast<int>(migrations.size());
  while (true) {
    bool done = false;
    int version = 0;
    Status st = db->InTransaction(kMigrationLockKey, [&]() -> Status {
      OXIDE_RETURN_IF_ERROR(
          db->Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                   "applied_at BIGINT NOT NULL DEFAULT (extract(epoch FROM now())::bigint))")
              .status());
      OXIDE_ASSIGN_OR_RETURN(Rows v, db->Exec("SELECT COALESCE(MAX(version), 0) FROM "
                                              "schema_migrations"));
      version = static_cast<int>(v.Int(0, 0));
      if (version > known) {
        return FailedPrecondition("database schema version " + std::to_string(version) +
                                  " is newer than this binary (" + std::to_string(known) + ")");
      }
      if (version == known) {
        done = true;
        return Status::Ok();
      }
      OXIDE_RETURN_IF_ERROR(db->Exec(migrations[static_cast<size_t>(version)]).status());
      return db
          ->Exec("INSERT INTO schema_migrations(version) VALUES ($1)",
                 Params().Add(int64_t{version + 1}))
          .status();
    });
    if (!st.ok() && !done && version < known && st.code() != ErrorCode::kFailedPrecondition) {
      return std::move(st).WithContext("migration " + std::to_string(version + 1));
    }
    OXIDE_RETURN_IF_ERROR(st);
    if (done) {
      db->impl_->schema_version = version;
      return db;
    }
  }
}

}  // namespace oxide::store::postgres
