#include "store/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>

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
