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

}  // namespace
}  // namespace oxide::store
