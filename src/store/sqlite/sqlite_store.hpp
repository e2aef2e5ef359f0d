#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "base/result.hpp"
#include "store/store.hpp"

namespace oxide::store::sqlite {

// Opens the SQLite-backed store at `path` (":memory:" for tests), creating and migrating the
// schema. kIo when the file cannot be opened, kFailedPrecondition when its schema is newer
// than this binary.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

// How many schema migrations this binary knows (and applies): tests check that all ran.
size_t MigrationCount();

}  // namespace oxide::store::sqlite
