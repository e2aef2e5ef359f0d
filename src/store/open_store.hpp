#pragma once

// Picks the store backend from `oxide serve --database`.

#include <memory>
#include <string>

#include "base/result.hpp"
#include "store/store.hpp"

namespace oxide::store {

// Opens (creating and migrating) the store named by `database`:
//   ""                                  SQLite at <data_dir>/oxide.db (the default)
//   "sqlite:PATH"                       SQLite at PATH
//   "postgresql://…", "postgres://…"    PostgreSQL (libpq URI; pool_size=N sets the pool)
//   anything else without "://"         a SQLite file path
// kInvalidArgument for another URL scheme or "sqlite:" without a path; otherwise the backend's
// errors (kIo when PostgreSQL cannot be reached; messages never contain the password).
Result<std::unique_ptr<Store>> OpenStore(const std::string& database, const std::string& data_dir);

// What OpenStore opens, safe to log: "sqlite <path>" or "postgresql <url with password ***>".
std::string DescribeDatabase(const std::string& database, const std::string& data_dir);

}  // namespace oxide::store
