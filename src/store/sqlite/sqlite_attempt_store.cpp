// Failure history (attempts) and refusal clearances over SQLite.
#include "store/sqlite/sqlite_store_internal.hpp"

namespace oxide::store::sqlite::internal {
namespace {

constexpr const char* kAttemptCols =
    "seq, device_id, report_id, campaign_id, model_id, version, outcome, stage, local, "
    "exit_status, error, output, at, device_at";

Result<AttemptRecord> ReadAttempt(const Stmt& q) {
  AttemptRecord a;
  a.seq = q.Int(0);
  a.device_id = q.Text(1);
  a.report_id = q.Text(2);
  a.campaign_id = q.Text(3);
  a.model_id = q.Text(4);
  a.version = q.Text(5);
  OXIDE_ASSIGN_OR_RETURN(a.outcome, ParseAttemptOutcome(q.Text(6)));
  OXIDE_ASSIGN_OR_RETURN(a.stage, ParseAttemptStage(q.Text(7)));
  a.local = q.Int(8) != 0;
  if (!q.IsNull(9)) a.exit_status = static_cast<int>(q.Int(9));
  a.error = q.Text(10);
  a.output = q.Text(11);
  a.at = q.Int(12);
  a.device_at = q.Int(13);
  return a;
}

}  // namespace

// ---- attempts --------------------------------------------------------------------------

Result<bool> SqliteAttemptStore::Add(const AttemptRecord& a) {
  Lock lock(db_.mu());
  // The partial unique index on (device_id, report_id) makes a re-sent report a no-op.
  OXIDE_ASSIGN_OR_RETURN(
      Stmt q, db_.Prepare("INSERT OR IGNORE INTO attempts(device_id, report_id, campaign_id, "
                          "model_id, version, outcome, stage, local, exit_status, error, output, "
                          "at, device_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)"));
  q.Bind(1, a.device_id)
      .Bind(2, a.report_id)
      .Bind(3, a.campaign_id)
      .Bind(4, a.model_id)
      .Bind(5, a.version)
      .Bind(6, ToString(a.outcome))
      .Bind(7, ToString(a.stage))
      .Bind(8, int64_t{a.local ? 1 : 0});
  if (a.exit_status) {
    q.Bind(9, int64_t{*a.exit_status});
  } else {
    q.BindNull(9);
  }
  OXIDE_RETURN_IF_ERROR(
      q.Bind(10, a.error).Bind(11, a.output).Bind(12, a.at).Bind(13, a.device_at).Run());
  return db_.Changes() > 0;
}

Result<std::vector<AttemptRecord>> SqliteAttemptStore::Query(const std::string& where,
                                                             const std::string& key, size_t limit,
                                                             bool newest_first) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(
      Stmt q, db_.Prepare(std::string("SELECT ") + kAttemptCols + " FROM attempts WHERE " + where +
                          " ORDER BY seq " + (newest_first ? "DESC" : "ASC") + " LIMIT ?"));
  q.Bind(1, key).BindU64(2, limit);
  std::vector<AttemptRecord> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    OXIDE_ASSIGN_OR_RETURN(auto a, ReadAttempt(q));
    out.push_back(std::move(a));
  }
}

Result<std::vector<AttemptRecord>> SqliteAttemptStore::ListForDevice(const std::string& device_id,
                                                                     size_t limit) {
  return Query("device_id=?", device_id, limit, true);
}

Result<std::vector<AttemptRecord>> SqliteAttemptStore::ListForCampaign(
    const std::string& campaign_id, size_t limit) {
  return Query("campaign_id=?", campaign_id, limit, true);
}

Result<std::optional<AttemptRecord>> SqliteAttemptStore::FirstFailureOfCampaign(
    const std::string& campaign_id) {
  OXIDE_ASSIGN_OR_RETURN(auto first,
                         Query("campaign_id=? AND outcome<>'fallback'", campaign_id, 1, false));
  if (first.empty()) return std::optional<AttemptRecord>();
  return std::optional<AttemptRecord>(std::move(first.front()));
}

// ---- refusal clearances ----------------------------------------------------------------

Result<ClearanceRecord> SqliteClearanceStore::Add(const ClearanceRecord& c) {
  Lock lock(db_.mu());
  {
    OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT id, created_at FROM refusal_clearances "
                                               "WHERE device_id=? AND model_id=? AND version=?"));
    q.Bind(1, c.device_id).Bind(2, c.model_id).Bind(3, c.version);
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) {
      ClearanceRecord existing = c;
      existing.id = q.Int(0);
      existing.created_at = q.Int(1);
      return existing;
    }
  }
  OXIDE_ASSIGN_OR_RETURN(Stmt ins, db_.Prepare("INSERT INTO refusal_clearances(device_id, "
                                               "model_id, version, created_at) VALUES(?,?,?,?)"));
  OXIDE_RETURN_IF_ERROR(
      ins.Bind(1, c.device_id).Bind(2, c.model_id).Bind(3, c.version).Bind(4, c.created_at).Run());
  ClearanceRecord out = c;
  out.id = db_.LastInsertId();
  return out;
}

Result<std::vector<ClearanceRecord>> SqliteClearanceStore::Pending(const std::string& device_id) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT id, device_id, model_id, version, "
                                             "created_at FROM refusal_clearances WHERE "
                                             "device_id=? ORDER BY id"));
  q.Bind(1, device_id);
  std::vector<ClearanceRecord> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(ClearanceRecord{q.Int(0), q.Text(1), q.Text(2), q.Text(3), q.Int(4)});
  }
}

Status SqliteClearanceStore::Acknowledge(const std::string& device_id,
                                         const std::vector<int64_t>& ids) {
  Lock lock(db_.mu());
  for (int64_t id : ids) {
    OXIDE_ASSIGN_OR_RETURN(
        Stmt q, db_.Prepare("DELETE FROM refusal_clearances WHERE device_id=? AND id=?"));
    OXIDE_RETURN_IF_ERROR(q.Bind(1, device_id).Bind(2, id).Run());
  }
  return Status::Ok();
}

}  // namespace oxide::store::sqlite::internal
