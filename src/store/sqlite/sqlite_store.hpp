#pragma once

#include <memory>
#include <string>

#include "base/result.hpp"
#include "store/store.hpp"

namespace oxide::store::sqlite {

// Opens the SQLite-backed store at `path` (":memory:" for tests), creating and migrating the
// schema. kIo when the file cannot be opened, kFailedPrecondition when its schema is newer
// than this binary.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

}  // namespace oxide::store::sqlite
