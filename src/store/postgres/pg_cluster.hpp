#pragma once

// Test-only: the throwaway PostgreSQL cluster of one test binary. The first caller starts it
// with the repository's scripts/pg_throwaway (in a fresh temp dir); it is stopped when the
// process exits, and by a watchdog process when this one dies without exiting (crash, kill).

#include <string>

#include "base/result.hpp"

namespace oxide::testing {

// The cluster's base URL (postgresql://postgres@127.0.0.1:PORT/postgres). kUnavailable with one
// line saying what to install when PostgreSQL is missing or the cluster cannot start.
Result<std::string> PgClusterUrl();

// A new, empty schema in the cluster and a URL whose connections use it (search_path), so that
// each test gets a fresh store without the cost of a new database.
Result<std::string> FreshPgSchemaUrl();

// Runs one statement on `url` and returns the first column of its first row ("" when none).
Result<std::string> PgQueryOne(const std::string& url, const std::string& sql);

}  // namespace oxide::testing
