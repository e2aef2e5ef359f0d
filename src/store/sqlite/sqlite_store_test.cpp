#include "store/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/sqlite/sqlite_db.hpp"
#include "store/store_contract_test.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::store {
namespace {

struct SqliteMemoryFactory {
  static std::unique_ptr<Store> Make() {
    auto s = sqlite::OpenSqliteStore(":memory:");
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreContract, ::testing::Types<SqliteMemoryFactory>);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreTargetingContract,
                               ::testing::Types<SqliteMemoryFactory>);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreLeaseContract, ::testing::Types<SqliteMemoryFactory>);

namespace {

TEST(SqliteStore, DataSurvivesReopenAndMigrationsAreRecordedOnce) {
  oxide::testing::TempDir dir;
  std::string path = dir.File("meta.db");
  {
    auto s = sqlite::OpenSqliteStore(path);
    ASSERT_OK(s.status());
    DeviceRecord d;
    d.id = "d1";
    ASSERT_OK((*s)->devices().Create(d));
  }
  auto s = sqlite::OpenSqliteStore(path);
  ASSERT_OK(s.status());
  EXPECT_OK((*s)->devices().Get("d1").status());
  // Each migration of the code's list recorded once, none skipped, none left out.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw,
                               "SELECT COUNT(*), COUNT(DISTINCT version), MAX(version) "
                               "FROM schema_migrations",
                               -1, &q, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  const auto n = static_cast<int64_t>(sqlite::MigrationCount());
  EXPECT_EQ(sqlite3_column_int64(q, 0), n);
  EXPECT_EQ(sqlite3_column_int64(q, 1), n);
  EXPECT_EQ(sqlite3_column_int64(q, 2), n);
  sqlite3_finalize(q);
  sqlite3_close(raw);
}

// Enrolment numbers each fleet member with MAX(seq) over the fleet: that must be an index seek,
// not a read of every member (10,000 devices into one fleet slowed enrolment ~6x).
TEST(SqliteStore, JoiningAFleetDoesNotReadEveryMember) {
  oxide::testing::TempDir dir;
  std::string path = dir.File("meta.db");
  ASSERT_OK(sqlite::OpenSqliteStore(path).status());
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(
      sqlite3_prepare_v2(raw,
                         "EXPLAIN QUERY PLAN SELECT COALESCE(MAX(seq),0)+1 FROM fleet_devices "
                         "WHERE fleet_id='f'",
                         -1, &q, nullptr),
      SQLITE_OK);
  std::string plan;
  while (sqlite3_step(q) == SQLITE_ROW) {
    plan += reinterpret_cast<const char*>(sqlite3_column_text(q, 3));
    plan += "; ";
  }
  sqlite3_finalize(q);
  sqlite3_close(raw);
  EXPECT_NE(plan.find("fleet_devices_seq"), std::string::npos) << plan;
}

TEST(SqliteStore, UnwritablePathIsIo) {
  EXPECT_STATUS(sqlite::OpenSqliteStore("/nonexistent-dir/x/meta.db").status(), ErrorCode::kIo);
}

// A full disk is the server's problem, not the client's: kResourceExhausted maps to HTTP 507
// (a database capped by max_page_count fails exactly like one on a full disk: SQLITE_FULL).
TEST(SqliteStore, FullDatabaseIsResourceExhausted) {
  oxide::testing::TempDir dir;
  auto db = sqlite::Db::Open(dir.File("full.db"), {"CREATE TABLE t (v TEXT NOT NULL);"});
  ASSERT_OK(db.status());
  ASSERT_OK((*db)->Exec("PRAGMA max_page_count=8"));
  Status st;
  for (int i = 0; i < 100 && st.ok(); ++i) {
    auto q = (*db)->Prepare("INSERT INTO t(v) VALUES(?)");
    ASSERT_OK(q.status());
    st = q->Bind(1, std::string(4000, 'x')).Run();
  }
  EXPECT_STATUS(st, ErrorCode::kResourceExhausted);
}

}  // namespace
}  // namespace oxide::store

namespace oxide::store {
namespace {

TEST(SqliteStore, ReleasesAndKeySetChain) {
  auto s = sqlite::OpenSqliteStore(":memory:");
  ASSERT_OK(s.status());
  ReleaseStore& r = (*s)->releases();
  EXPECT_STATUS(r.Get("m", "v1").status(), ErrorCode::kNotFound);
  ASSERT_OK(r.Put("m", "v1", "{\"a\":1}", 10));
  ASSERT_OK(r.Put("m", "v1", "{\"a\":2}", 11));
  auto got = r.Get("m", "v1");
  ASSERT_OK(got.status());
  EXPECT_EQ(*got, "{\"a\":2}");
  EXPECT_STATUS(r.Get("m", "v2").status(), ErrorCode::kNotFound);

  auto empty = r.ListKeySets();
  ASSERT_OK(empty.status());
  EXPECT_TRUE(empty->empty());
  ASSERT_OK(r.AppendKeySet(2, "two", 1));
  ASSERT_OK(r.AppendKeySet(1, "one", 1));
  EXPECT_STATUS(r.AppendKeySet(2, "again", 1), ErrorCode::kAlreadyExists);
  auto chain = r.ListKeySets();
  ASSERT_OK(chain.status());
  EXPECT_EQ(*chain, (std::vector<std::string>{"one", "two"}));
}

// Replicas (issue #12): two processes claiming from one file never take the same job. The
// child counts its claims in its exit status; a double claim would make the sum exceed the jobs.
TEST(SqliteStore, TwoProcessesClaimEachJobOnce) {
  oxide::testing::TempDir dir;
  const std::string path = dir.File("shared.db");
  constexpr int kJobs = 120;
  {
    auto s = sqlite::OpenSqliteStore(path);
    ASSERT_OK(s.status());
    for (int i = 0; i < kJobs; ++i)
      ASSERT_TRUE(*(*s)->patches().Enqueue("b" + std::to_string(i), "t", i));
  }
  auto claim_all = [&](const std::string& owner) {
    auto s = sqlite::OpenSqliteStore(path);
    if (!s.ok()) return -1;
    int n = 0;
    while (true) {
      auto job = (*s)->patches().Claim(1000, owner, 1'000'000);
      if (!job.ok()) return -1;
      if (!job->has_value()) return n;
      ++n;
    }
  };
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int n = claim_all("child");
    ::_exit(n < 0 ? 255 : n);
  }
  const int mine = claim_all("parent");
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFEXITED(wstatus));
  const int theirs = WEXITSTATUS(wstatus);
  ASSERT_NE(theirs, 255);
  ASSERT_GE(mine, 0);
  EXPECT_EQ(mine + theirs, kJobs);
  auto s = sqlite::OpenSqliteStore(path);
  ASSERT_OK(s.status());
  int parent_owned = 0;
  for (int i = 0; i < kJobs; ++i) {
    auto p = (*s)->patches().Get("b" + std::to_string(i), "t");
    ASSERT_OK(p.status());
    EXPECT_NE(p->lease_owner, "");
    parent_owned += p->lease_owner == "parent" ? 1 : 0;
  }
  EXPECT_EQ(parent_owned, mine);
}

// InSavepoint (issue #12): inside a transaction a failing savepoint undoes its own writes only
// and the transaction commits the rest; outside one it is a transaction of its own.
TEST(SqliteStore, SavepointUndoesOnlyItsOwnWrites) {
  oxide::testing::TempDir dir;
  auto s = sqlite::OpenSqliteStore(dir.File("meta.db"));
  ASSERT_OK(s.status());
  Store& st = **s;
  auto create = [&](const std::string& id) {
    DeviceRecord d;
    d.id = id;
    return st.devices().Create(d);
  };
  Status failed;
  ASSERT_OK(st.InTransaction([&]() -> Status {
    OXIDE_RETURN_IF_ERROR(st.InSavepoint([&] { return create("kept-1"); }));
    failed = st.InSavepoint([&]() -> Status {
      OXIDE_RETURN_IF_ERROR(create("undone"));
      return InvalidArgument("refused after a write");
    });
    // A nested transaction that fails inside a savepoint fails (and undoes) only that savepoint.
    Status nested = st.InSavepoint([&]() -> Status {
      OXIDE_RETURN_IF_ERROR(create("undone-too"));
      Status inner = st.InTransaction([] { return IoError("inner failure"); });
      (void)inner;
      return Status::Ok();
    });
    EXPECT_FALSE(nested.ok());
    return st.InSavepoint([&] { return create("kept-2"); });
  }));
  EXPECT_STATUS(failed, ErrorCode::kInvalidArgument);
  EXPECT_OK(st.devices().Get("kept-1").status());
  EXPECT_OK(st.devices().Get("kept-2").status());
  EXPECT_STATUS(st.devices().Get("undone").status(), ErrorCode::kNotFound);
  EXPECT_STATUS(st.devices().Get("undone-too").status(), ErrorCode::kNotFound);
  // Outside a transaction: its own transaction, rolled back on failure.
  EXPECT_STATUS(st.InSavepoint([&]() -> Status {
    OXIDE_RETURN_IF_ERROR(create("alone"));
    return InvalidArgument("no");
  }),
                ErrorCode::kInvalidArgument);
  EXPECT_STATUS(st.devices().Get("alone").status(), ErrorCode::kNotFound);
  EXPECT_OK(st.InSavepoint([&] { return create("alone"); }));
  EXPECT_OK(st.devices().Get("alone").status());
}

}  // namespace
}  // namespace oxide::store
