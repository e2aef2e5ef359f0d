// Replicas over one SQLite file (issue #12): patch-job leases and the shared event log.
//
// Several processes may open the same file. Every write transaction starts with BEGIN IMMEDIATE
// (Db::Begin), which takes the file's write lock before reading, so a claim cannot read a job
// that another process is taking at the same moment, and two processes never deadlock upgrading
// read locks (SQLITE_BUSY would skip the busy timeout then). Single statements run in their own
// transaction and wait on the busy timeout.
#include "store/sqlite/sqlite_store_internal.hpp"

namespace oxide::store::sqlite::internal {

// ---- patch-job leases ------------------------------------------------------------------

Result<std::optional<PatchRecord>> SqlitePatchStore::Claim(TimeMs now, const std::string& owner,
                                                           int64_t lease_ms) {
  Lock lock(db_.mu());
  OXIDE_RETURN_IF_ERROR(db_.Begin());
  Result<std::optional<PatchRecord>> claimed = [&]() -> Result<std::optional<PatchRecord>> {
    OXIDE_ASSIGN_OR_RETURN(auto next, NextPending(now));
    if (!next) return next;
    OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("UPDATE patches SET lease_owner=?, lease_until=? "
                                               "WHERE base_sha256=? AND target_sha256=?"));
    next->lease_owner = owner;
    next->lease_until = now + lease_ms;
    OXIDE_RETURN_IF_ERROR(q.Bind(1, owner)
                              .Bind(2, next->lease_until)
                              .Bind(3, next->base_sha256)
                              .Bind(4, next->target_sha256)
                              .Run());
    return next;
  }();
  OXIDE_RETURN_IF_ERROR(db_.End(claimed.ok()));
  return claimed;
}

Status SqlitePatchStore::RenewLease(const std::string& base_sha, const std::string& target_sha,
                                    const std::string& owner, TimeMs until) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("UPDATE patches SET lease_until=? WHERE "
                                             "base_sha256=? AND target_sha256=? AND "
                                             "lease_owner=? AND lease_owner<>''"));
  OXIDE_RETURN_IF_ERROR(
      q.Bind(1, until).Bind(2, base_sha).Bind(3, target_sha).Bind(4, owner).Run());
  if (db_.Changes() == 0) {
    return FailedPrecondition("patch " + base_sha + " -> " + target_sha + " is not leased to '" +
                              owner + "'");
  }
  return Status::Ok();
}

Status SqlitePatchStore::UpdateLeased(const PatchRecord& p, const std::string& owner) {
  OXIDE_ASSIGN_OR_RETURN(bool written, WritePatch(p, &owner));
  if (written) return Status::Ok();
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt exists, db_.Prepare("SELECT 1 FROM patches WHERE base_sha256=? AND "
                                                  "target_sha256=?"));
  exists.Bind(1, p.base_sha256).Bind(2, p.target_sha256);
  OXIDE_ASSIGN_OR_RETURN(bool row, exists.Step());
  if (!row) return NotFound("no patch " + p.base_sha256 + " -> " + p.target_sha256);
  return FailedPrecondition("patch " + p.base_sha256 + " -> " + p.target_sha256 +
                            " is not leased to '" + owner + "'");
}

Status SqlitePatchStore::ReleaseLease(const std::string& base_sha, const std::string& target_sha,
                                      const std::string& owner) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("UPDATE patches SET lease_owner='', lease_until=0 "
                                             "WHERE base_sha256=? AND target_sha256=? AND "
                                             "lease_owner=? AND lease_owner<>''"));
  return q.Bind(1, base_sha).Bind(2, target_sha).Bind(3, owner).Run();
}

// ---- the event log ---------------------------------------------------------------------

Result<int64_t> SqliteEventLogStore::Append(const std::string& type, const std::string& data,
                                            TimeMs at) {
  Lock lock(db_.mu());
  // One statement, one transaction: SQLite has one writer at a time, so seqs (AUTOINCREMENT)
  // are handed out in commit order.
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("INSERT INTO event_log(type, data, at) "
                                             "VALUES(?,?,?)"));
  OXIDE_RETURN_IF_ERROR(q.Bind(1, type).Bind(2, data).Bind(3, at).Run());
  return db_.LastInsertId();
}

Result<std::vector<int64_t>> SqliteEventLogStore::AppendBatch(
    const std::vector<EventLogRecord>& events) {
  std::vector<int64_t> seqs;
  if (events.empty()) return seqs;
  Lock lock(db_.mu());
  OXIDE_RETURN_IF_ERROR(db_.Begin());
  Status st = [&]() -> Status {
    for (const auto& e : events) {
      OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("INSERT INTO event_log(type, data, at) "
                                                 "VALUES(?,?,?)"));
      OXIDE_RETURN_IF_ERROR(q.Bind(1, e.type).Bind(2, e.data).Bind(3, e.at).Run());
      seqs.push_back(db_.LastInsertId());
    }
    return Status::Ok();
  }();
  OXIDE_RETURN_IF_ERROR(db_.End(st.ok()));
  OXIDE_RETURN_IF_ERROR(st);
  return seqs;
}

Result<int64_t> SqliteEventLogStore::MinSeq() {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT COALESCE(MIN(seq), 0) FROM event_log"));
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : 0;
}

Result<std::vector<EventLogRecord>> SqliteEventLogStore::ListAfter(int64_t after, size_t limit) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT seq, type, data, at FROM event_log "
                                             "WHERE seq>? ORDER BY seq LIMIT ?"));
  q.Bind(1, after).Bind(2, static_cast<int64_t>(limit));
  std::vector<EventLogRecord> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(EventLogRecord{q.Int(0), q.Text(1), q.Text(2), q.Int(3)});
  }
}

Status SqliteEventLogStore::Trim(int64_t up_to) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("DELETE FROM event_log WHERE seq<=?"));
  return q.Bind(1, up_to).Run();
}

Result<std::string> SqliteEventLogStore::DatabaseId() {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q,
                         db_.Prepare("SELECT value FROM database_info WHERE key='database_id'"));
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return IoError("sqlite: database_info has no database_id");
  return q.Text(0);
}

}  // namespace oxide::store::sqlite::internal
