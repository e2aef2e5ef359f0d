#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "base/result.hpp"
#include "store/postgres/pg_db.hpp"
#include "store/store.hpp"

namespace oxide::store::postgres {

// Opens the PostgreSQL-backed store at `url` (postgresql://user[:password]@host[:port]/db[?...],
// any libpq URI parameter allowed; `pool_size=N` sets options.max_connections and is not passed to
// libpq), creating and migrating the schema. kIo when the server cannot be reached,
// kFailedPrecondition when the database's schema is newer than this binary.
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url, PoolOptions options = {});

// How many schema migrations this binary knows (and applies): tests check that all ran.
size_t MigrationCount();

// For tests: the backend pid of the calling thread's transaction connection (0 outside one).
int TransactionBackendPid(Store& store);

}  // namespace oxide::store::postgres
