// The bandwidth time series (migration 8) and the counts GET /metrics reads at scrape time.
#include "store/sqlite/sqlite_store_internal.hpp"

namespace oxide::store::sqlite::internal {

Status SqliteStatsStore::AddBandwidth(TimeMs at, uint64_t served, uint64_t full_equivalent) {
  constexpr int64_t kHourMs = 3'600'000;
  const int64_t hour = (at - ((at % kHourMs) + kHourMs) % kHourMs) / 1000;  // floor, UTC
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q,
                         db_.Prepare("INSERT INTO bandwidth_hourly(hour, bytes_served, bytes_full) "
                                     "VALUES(?,?,?) ON CONFLICT(hour) DO UPDATE SET "
                                     "bytes_served=bytes_served+excluded.bytes_served, "
                                     "bytes_full=bytes_full+excluded.bytes_full"));
  return q.Bind(1, hour).BindU64(2, served).BindU64(3, full_equivalent).Run();
}

Result<std::vector<BandwidthRecord>> SqliteStatsStore::ListBandwidth(int64_t from_s, int64_t to_s) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT hour, bytes_served, bytes_full FROM "
                                             "bandwidth_hourly WHERE hour>=? AND hour<? "
                                             "ORDER BY hour"));
  q.Bind(1, from_s).Bind(2, to_s);
  std::vector<BandwidthRecord> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(BandwidthRecord{q.Int(0), q.U64(1), q.U64(2)});
  }
}

namespace {

Result<uint64_t> CountOne(Db& db, const char* sql) {
  Lock lock(db.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db.Prepare(sql));
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.U64(0) : 0;
}

}  // namespace

Result<uint64_t> SqliteStatsStore::CountDevices() {
  return CountOne(db_, "SELECT COUNT(*) FROM devices");
}

Result<uint64_t> SqliteStatsStore::CountPendingPatches() {
  return CountOne(db_, "SELECT COUNT(*) FROM patches WHERE state='pending'");
}

Result<std::vector<std::pair<std::string, uint64_t>>> SqliteStatsStore::CountCampaignsByState() {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(
      Stmt q, db_.Prepare("SELECT state, COUNT(*) FROM campaigns GROUP BY state ORDER BY state"));
  std::vector<std::pair<std::string, uint64_t>> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.emplace_back(q.Text(0), q.U64(1));
  }
}

}  // namespace oxide::store::sqlite::internal
