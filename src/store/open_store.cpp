#include "store/open_store.hpp"

#include "store/postgres/pg_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace oxide::store {
namespace {

enum class Backend : uint8_t { kSqlite, kPostgres, kUnknownScheme };

struct Target {
  Backend backend;
  std::string location;  // SQLite path or PostgreSQL URL
};

Target Resolve(const std::string& database, const std::string& data_dir) {
  if (database.empty()) return {Backend::kSqlite, data_dir + "/oxide.db"};
  if (database.rfind("sqlite:", 0) == 0) return {Backend::kSqlite, database.substr(7)};
  if (database.rfind("postgresql://", 0) == 0 || database.rfind("postgres://", 0) == 0) {
    return {Backend::kPostgres, database};
  }
  if (database.find("://") != std::string::npos) return {Backend::kUnknownScheme, database};
  return {Backend::kSqlite, database};
}

}  // namespace

Result<std::unique_ptr<Store>> OpenStore(const std::string& database, const std::string& data_dir) {
  const Target t = Resolve(database, data_dir);
  switch (t.backend) {
    case Backend::kSqlite:
      if (t.location.empty()) return InvalidArgument("--database sqlite: needs a file path");
      return sqlite::OpenSqliteStore(t.location);
    case Backend::kPostgres:
      return postgres::OpenPostgresStore(t.location);
    case Backend::kUnknownScheme:
      break;
  }
  return InvalidArgument("--database " + postgres::RedactUrl(database) +
                         ": unsupported scheme (use a path, sqlite:PATH or postgresql://...)");
}

std::string DescribeDatabase(const std::string& database, const std::string& data_dir) {
  const Target t = Resolve(database, data_dir);
  if (t.backend == Backend::kSqlite) return "sqlite " + t.location;
  if (t.backend == Backend::kPostgres) return "postgresql " + postgres::RedactUrl(t.location);
  return postgres::RedactUrl(database);
}

}  // namespace oxide::store
