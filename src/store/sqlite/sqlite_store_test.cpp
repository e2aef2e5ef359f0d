#include "store/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace oxide::store
