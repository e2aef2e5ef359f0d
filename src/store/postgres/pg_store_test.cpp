// The store contract suites and the PostgreSQL-specific tests, against one throwaway cluster
// that this binary starts (scripts/pg_throwaway) and stops at exit. Each store gets a fresh
// schema.
#include "store/postgres/pg_store.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "store/postgres/pg_cluster.hpp"
#include "store/postgres/pg_db.hpp"
#include "store/store_contract_test.hpp"

namespace oxide::store {
namespace {

using postgres::OpenPostgresStore;
using postgres::PoolOptions;

std::string FreshUrl() {
  auto url = oxide::testing::FreshPgSchemaUrl();
  if (!url.ok()) {
    // Fatal, so that the test body does not run on a missing store (a mere skip would hide that
    // PostgreSQL is not installed).
    [&] { FAIL() << url.status().ToString(); }();
    return "";
  }
  return *url;
}

std::unique_ptr<Store> OpenOrFail(const std::string& url, PoolOptions options = {}) {
  if (url.empty()) return nullptr;
  auto s = OpenPostgresStore(url, options);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

struct PostgresFactory {
  static std::unique_ptr<Store> Make() { return OpenOrFail(FreshUrl(), PoolOptions{4}); }
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StoreContract, ::testing::Types<PostgresFactory>);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StoreTargetingContract, ::testing::Types<PostgresFactory>);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StoreLeaseContract, ::testing::Types<PostgresFactory>);

namespace {

// Polls `done` until it holds or 10 s have passed (no fixed sleeps).
template <class F>
bool WaitUntil(F done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = FreshUrl();
    if (url_.empty()) GTEST_SKIP() << "no PostgreSQL cluster";
  }
  std::string Query(const std::string& sql) {
    auto r = oxide::testing::PgQueryOne(url_, sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : "";
  }
  std::string url_;
};

TEST_F(PostgresStoreTest, DataSurvivesReopenAndMigrationsAreRecordedOnce) {
  {
    auto s = OpenOrFail(url_);
    ASSERT_NE(s, nullptr);
    DeviceRecord d;
    d.id = "d1";
    ASSERT_OK(s->devices().Create(d));
  }
  auto s = OpenOrFail(url_);
  ASSERT_NE(s, nullptr);
  EXPECT_OK(s->devices().Get("d1").status());
  // Each migration of the code's list recorded once, none skipped, none left out.
  const std::string n = std::to_string(postgres::MigrationCount());
  EXPECT_EQ(Query("SELECT COUNT(*) FROM schema_migrations"), n);
  EXPECT_EQ(Query("SELECT COUNT(DISTINCT version) FROM schema_migrations"), n);
  EXPECT_EQ(Query("SELECT MAX(version) FROM schema_migrations"), n);
  EXPECT_EQ(Query("SELECT COUNT(*) FROM database_info"), "1");
}

// A statement the server refused to prepare (its table did not exist yet) works on the same
// connection once it can: the connection does not remember it as prepared.
TEST_F(PostgresStoreTest, StatementThatFailedToPrepareWorksLaterOnTheSameConnection) {
  auto db = postgres::Db::Open(url_, PoolOptions{1}, {});
  ASSERT_OK(db.status());
  const std::string sql = "SELECT n FROM made_later WHERE n=$1";
  EXPECT_FALSE((*db)->Exec(sql, postgres::Params().Add(int64_t{1})).ok());
  EXPECT_FALSE((*db)->Exec(sql, postgres::Params().Add(int64_t{1})).ok());
  ASSERT_OK((*db)->Exec("CREATE TABLE made_later(n BIGINT)").status());
  ASSERT_OK((*db)->Exec("INSERT INTO made_later VALUES (1)").status());
  auto rows = (*db)->Exec(sql, postgres::Params().Add(int64_t{1}));
  ASSERT_OK(rows.status());
  EXPECT_EQ(rows->size(), 1u);
}

TEST_F(PostgresStoreTest, NewerSchemaIsFailedPrecondition) {
  ASSERT_NE(OpenOrFail(url_), nullptr);
  Query("INSERT INTO schema_migrations(version) VALUES (99)");
  EXPECT_STATUS(OpenPostgresStore(url_).status(), ErrorCode::kFailedPrecondition);
}

// Nothing listens on the port: kIo at once, with the reason and without the password.
TEST_F(PostgresStoreTest, UnreachableServerIsIoWithoutHanging) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  ::close(fd);  // bound, never listened: connections are refused
  const auto start = std::chrono::steady_clock::now();
  auto s = OpenPostgresStore("postgresql://oxide:s3cret@127.0.0.1:" + std::to_string(port) +
                             "/oxide?pool_size=2");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_STATUS(s.status(), ErrorCode::kIo);
  EXPECT_NE(s.status().message().find("cannot connect"), std::string::npos) << s.status().message();
  EXPECT_EQ(s.status().message().find("s3cret"), std::string::npos) << s.status().message();
}

TEST_F(PostgresStoreTest, BadPoolSizeIsInvalidArgument) {
  EXPECT_STATUS(OpenPostgresStore(url_ + "&pool_size=0").status(), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(OpenPostgresStore(url_ + "&pool_size=x").status(), ErrorCode::kInvalidArgument);
  EXPECT_OK(OpenPostgresStore(url_ + "&pool_size=3").status());
}

TEST(PostgresUrl, RedactsPasswords) {
  EXPECT_EQ(postgres::RedactUrl("postgresql://u:pw@h:5432/db?sslmode=require"),
            "postgresql://u:***@h:5432/db?sslmode=require");
  EXPECT_EQ(postgres::RedactUrl("postgres://u@h/db?password=pw&x=1"),
            "postgres://u@h/db?password=***&x=1");
  EXPECT_EQ(postgres::RedactUrl("postgresql://h/db"), "postgresql://h/db");
}

// The server kills the transaction's backend: nothing it wrote stays, and the pool replaces
// the connection.
TEST_F(PostgresStoreTest, ConnectionKilledMidTransactionCommitsNothingAndPoolRecovers) {
  auto s = OpenOrFail(url_, PoolOptions{2});
  ASSERT_NE(s, nullptr);
  Status st = s->InTransaction([&]() -> Status {
    DeviceRecord d;
    d.id = "a";
    OXIDE_RETURN_IF_ERROR(s->devices().Create(d));
    const int pid = postgres::TransactionBackendPid(*s);
    EXPECT_GT(pid, 0);
    EXPECT_EQ(Query("SELECT pg_terminate_backend(" + std::to_string(pid) + ", 5000)"), "t");
    d.id = "b";
    return s->devices().Create(d);
  });
  EXPECT_STATUS(st, ErrorCode::kIo);
  EXPECT_STATUS(s->devices().Get("a").status(), ErrorCode::kNotFound);
  DeviceRecord c;
  c.id = "c";
  EXPECT_OK(s->devices().Create(c));
  EXPECT_EQ(Query("SELECT string_agg(id, ',') FROM devices"), "c");
}

TEST_F(PostgresStoreTest, ConcurrentClaimsNeverHandTheSameJobToBoth) {
  auto a = OpenOrFail(url_, PoolOptions{2});
  auto b = OpenOrFail(url_, PoolOptions{2});
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kJobs = 60;
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_TRUE(*a->patches().Enqueue("base" + std::to_string(i), "t", i));
  }
  std::vector<std::string> got_a, got_b;
  auto drain = [](Store* s, const std::string& owner, std::vector<std::string>* got) {
    while (true) {
      auto job = s->patches().Claim(1000, owner, 60'000);
      if (!job.ok() || !job->has_value()) return;
      EXPECT_EQ((*job)->lease_owner, owner);
      got->push_back((*job)->base_sha256);
    }
  };
  std::thread ta(drain, a.get(), "replica-a", &got_a);
  std::thread tb(drain, b.get(), "replica-b", &got_b);
  ta.join();
  tb.join();
  std::set<std::string> all(got_a.begin(), got_a.end());
  for (const auto& j : got_b) EXPECT_TRUE(all.insert(j).second) << j << " claimed twice";
  EXPECT_EQ(all.size(), static_cast<size_t>(kJobs));
  EXPECT_FALSE(a->patches().NextPending(1000)->has_value());  // every job is leased
}

TEST_F(PostgresStoreTest, LeasesExpireRenewAndRelease) {
  auto s = OpenOrFail(url_);
  ASSERT_NE(s, nullptr);
  PatchStore& p = s->patches();
  ASSERT_TRUE(*p.Enqueue("a", "t", 1));
  ASSERT_TRUE(*p.Enqueue("b", "t", 2));
  auto first = p.Claim(100, "r1", 50);
  ASSERT_OK(first.status());
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->base_sha256, "a");
  EXPECT_EQ((*first)->lease_until, 150);
  EXPECT_EQ(p.NextPending(100)->value().base_sha256, "b");  // "a" is leased
  EXPECT_EQ(p.Claim(100, "r2", 50)->value().base_sha256, "b");
  EXPECT_FALSE(p.Claim(149, "r2", 50)->has_value());
  EXPECT_STATUS(p.RenewLease("a", "t", "r2", 500), ErrorCode::kFailedPrecondition);
  ASSERT_OK(p.RenewLease("a", "t", "r1", 500));
  EXPECT_EQ(p.Get("a", "t")->lease_until, 500);
  EXPECT_EQ(p.Claim(499, "r2", 50)->value().base_sha256, "b");  // its lease ran out
  ASSERT_OK(p.ReleaseLease("a", "t", "r2"));                    // not the holder: no-op
  EXPECT_EQ(p.Get("a", "t")->lease_owner, "r1");
  ASSERT_OK(p.ReleaseLease("a", "t", "r1"));
  EXPECT_EQ(p.Get("a", "t")->lease_owner, "");
  EXPECT_EQ(p.Claim(200, "r2", 50)->value().base_sha256, "a");
  // A lease that ran out lets another replica take the job (the holder died).
  EXPECT_EQ(p.Claim(10'000, "r3", 50)->value().lease_owner, "r3");
}

TEST_F(PostgresStoreTest, SavepointUndoesOnlyItsOwnWrites) {
  auto s = OpenOrFail(url_);
  ASSERT_NE(s, nullptr);
  auto create = [&](const std::string& id) {
    DeviceRecord d;
    d.id = id;
    return s->devices().Create(d);
  };
  ASSERT_OK(s->InTransaction([&]() -> Status {
    OXIDE_RETURN_IF_ERROR(create("a"));
    Status inner = s->InSavepoint([&]() -> Status {
      OXIDE_RETURN_IF_ERROR(create("b"));
      return Internal("undo b");
    });
    EXPECT_STATUS(inner, ErrorCode::kInternal);
    OXIDE_RETURN_IF_ERROR(s->InSavepoint([&] { return create("c"); }));
    return create("d");
  }));
  EXPECT_EQ(Query("SELECT string_agg(id, ',' ORDER BY id) FROM devices"), "a,c,d");
  ASSERT_OK(s->InSavepoint([&] { return create("e"); }));  // outside: its own transaction
  EXPECT_OK(s->devices().Get("e").status());
}

// A second store's InTransaction waits on the advisory lock while the first one is open.
TEST_F(PostgresStoreTest, TransactionsAreSerialisedAcrossStores) {
  auto a = OpenOrFail(url_);
  auto b = OpenOrFail(url_);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::atomic<bool> b_inside{false};
  std::thread tb;
  ASSERT_OK(a->InTransaction([&]() -> Status {
    tb = std::thread([&] {
      EXPECT_OK(b->InTransaction([&] {
        b_inside = true;
        return Status::Ok();
      }));
    });
    EXPECT_TRUE(WaitUntil([&] {
      return Query("SELECT COUNT(*) FROM pg_locks WHERE locktype='advisory' AND NOT granted") ==
             "1";
    }));
    EXPECT_FALSE(b_inside.load());
    return Status::Ok();
  }));
  tb.join();
  EXPECT_TRUE(b_inside.load());
}

TEST_F(PostgresStoreTest, ExhaustedPoolIsUnavailable) {
  auto s = OpenOrFail(url_, PoolOptions{1, std::chrono::milliseconds(100)});
  ASSERT_NE(s, nullptr);
  ASSERT_OK(s->InTransaction([&]() -> Status {
    Status other;
    std::thread t([&] { other = s->devices().Get("x").status(); });
    t.join();
    EXPECT_STATUS(other, ErrorCode::kUnavailable);
    return Status::Ok();
  }));
  EXPECT_STATUS(s->devices().Get("x").status(), ErrorCode::kNotFound);  // free again
}

TEST_F(PostgresStoreTest, EventLogIsOrderedTrimmedAndHasOneDatabaseId) {
  auto s = OpenOrFail(url_);
  ASSERT_NE(s, nullptr);
  EventLogStore& log = s->event_log();
  auto first = log.Append("device.changed", R"({"id":"d1"})", 10);
  ASSERT_OK(first.status());
  auto second = log.Append("campaign.changed", R"({"id":"c1"})", 11);
  ASSERT_OK(second.status());
  EXPECT_GT(*second, *first);
  auto rows = log.ListAfter(0, 10);
  ASSERT_OK(rows.status());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[1].type, "campaign.changed");
  EXPECT_EQ((*rows)[1].data, R"({"id":"c1"})");
  EXPECT_EQ((*rows)[1].at, 11);
  EXPECT_EQ(log.ListAfter(*first, 10)->size(), 1u);
  EXPECT_EQ(log.ListAfter(0, 1)->size(), 1u);
  ASSERT_OK(log.Trim(*first));
  EXPECT_EQ(log.ListAfter(0, 10)->front().seq, *second);
  EXPECT_EQ(log.ListAfter(0, SIZE_MAX)->size(), 1u);  // no limit, as SQLite's LIMIT -1
  auto id = log.DatabaseId();
  ASSERT_OK(id.status());
  EXPECT_EQ(id->size(), 32u);
  auto again = OpenOrFail(url_);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(*again->event_log().DatabaseId(), *id);
}

// PostgreSQL text holds neither NUL nor invalid UTF-8; both are stored as U+FFFD rather than
// failing the write.
TEST_F(PostgresStoreTest, InvalidUtf8IsStoredAsReplacementCharacter) {
  auto s = OpenOrFail(url_);
  ASSERT_NE(s, nullptr);
  DeviceRecord d;
  d.id = "d1";
  d.name = std::string("a\xff") + std::string(1, '\0') + "b\xc3\xa9";
  ASSERT_OK(s->devices().Create(d));
  EXPECT_EQ(s->devices().Get("d1")->name,
            "a\xef\xbf\xbd\xef\xbf\xbd"
            "b\xc3\xa9");
}

// Tags and attributes travel with the device row in one query: any bytes survive.
TEST_F(PostgresStoreTest, TagsAndAttributesWithSeparatorsRoundTrip) {
  auto s = OpenOrFail(url_);
  ASSERT_NE(s, nullptr);
  DeviceRecord d;
  d.id = "d,1";
  d.tags = {{"k:,\xc3\xbc", "v,:\"'{}"}, {"", ""}, {"z", "\\"}};
  ASSERT_OK(s->devices().Create(d));
  DeviceInventory inv;
  inv.attributes = {{"rack:,", "3,4"}, {"e", ""}};
  inv.updated_at = 5;
  ASSERT_OK(s->devices().PutInventory("d,1", inv));
  auto got = s->devices().Get("d,1");
  ASSERT_OK(got.status());
  EXPECT_EQ(got->tags, d.tags);
  EXPECT_EQ(got->inventory.attributes, inv.attributes);
  EXPECT_EQ(s->devices().List()->at(0).tags, d.tags);
  ASSERT_OK(s->devices().Update(*got));  // same tags: the one-statement path
  EXPECT_EQ(s->devices().Get("d,1")->tags, d.tags);
  got->tags.erase("z");
  got->last_seen = 9;
  ASSERT_OK(s->devices().Update(*got));  // fewer tags: rewritten with the row
  EXPECT_EQ(s->devices().Get("d,1")->tags, got->tags);
  EXPECT_EQ(s->devices().Get("d,1")->last_seen, 9);
}

}  // namespace
}  // namespace oxide::store
