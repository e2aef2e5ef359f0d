// Operator tokens, enrollment tokens, device credentials and the audit log (migration 5).
// Every value goes through a bound parameter.
#include "store/sqlite/sqlite_store_internal.hpp"

namespace oxide::store::sqlite::internal {
namespace {

constexpr const char* kTokenCols = "id, name, role, sha256, created_at, revoked_at, last_used";

Result<OperatorTokenRecord> ReadToken(const Stmt& q) {
  OperatorTokenRecord t;
  t.id = q.Text(0);
  t.name = q.Text(1);
  OXIDE_ASSIGN_OR_RETURN(t.role, ParseOperatorRole(q.Text(2)));
  t.sha256 = q.Text(3);
  t.created_at = q.Int(4);
  t.revoked_at = q.Int(5);
  t.last_used = q.Int(6);
  return t;
}

constexpr const char* kEnrollCols = "id, fleet_id, sha256, created_at, revoked_at";

EnrollmentTokenRecord ReadEnrollment(const Stmt& q) {
  return EnrollmentTokenRecord{q.Text(0), q.Text(1), q.Text(2), q.Int(3), q.Int(4)};
}

}  // namespace

Status SqliteAuthStore::CreateOperatorToken(const OperatorTokenRecord& t) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("INSERT INTO operator_tokens(id, name, role, sha256, "
                                             "created_at, revoked_at, last_used) "
                                             "VALUES(?,?,?,?,?,?,?)"));
  return q.Bind(1, t.id)
      .Bind(2, t.name)
      .Bind(3, ToString(t.role))
      .Bind(4, t.sha256)
      .Bind(5, t.created_at)
      .Bind(6, t.revoked_at)
      .Bind(7, t.last_used)
      .Run();
}

Result<OperatorTokenRecord> SqliteAuthStore::FindOperatorToken(const std::string& sha256) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare(std::string("SELECT ") + kTokenCols +
                                             " FROM operator_tokens WHERE sha256=?"));
  q.Bind(1, sha256);
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return NotFound("no such token");
  return ReadToken(q);
}

Result<std::vector<OperatorTokenRecord>> SqliteAuthStore::ListOperatorTokens() {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare(std::string("SELECT ") + kTokenCols +
                                             " FROM operator_tokens ORDER BY rowid"));
  std::vector<OperatorTokenRecord> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    OXIDE_ASSIGN_OR_RETURN(auto t, ReadToken(q));
    out.push_back(std::move(t));
  }
}

Status SqliteAuthStore::RevokeOperatorToken(const std::string& id, TimeMs at) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("UPDATE operator_tokens SET revoked_at=CASE WHEN "
                                             "revoked_at=0 THEN ? ELSE revoked_at END WHERE id=?"));
  OXIDE_RETURN_IF_ERROR(q.Bind(1, at).Bind(2, id).Run());
  if (db_.Changes() == 0) return NotFound("token '" + id + "' not found");
  return Status::Ok();
}

Status SqliteAuthStore::TouchOperatorToken(const std::string& id, TimeMs at) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("UPDATE operator_tokens SET last_used=? WHERE id=?"));
  return q.Bind(1, at).Bind(2, id).Run();
}

Result<uint64_t> SqliteAuthStore::CountOperatorTokens() {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT COUNT(*) FROM operator_tokens"));
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.U64(0) : 0;
}

Status SqliteAuthStore::CreateEnrollmentToken(const EnrollmentTokenRecord& t) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("INSERT INTO enrollment_tokens(id, fleet_id, sha256, "
                                             "created_at, revoked_at) VALUES(?,?,?,?,?)"));
  return q.Bind(1, t.id)
      .Bind(2, t.fleet_id)
      .Bind(3, t.sha256)
      .Bind(4, t.created_at)
      .Bind(5, t.revoked_at)
      .Run();
}

Result<EnrollmentTokenRecord> SqliteAuthStore::FindEnrollmentToken(const std::string& sha256) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare(std::string("SELECT ") + kEnrollCols +
                                             " FROM enrollment_tokens WHERE sha256=?"));
  q.Bind(1, sha256);
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return NotFound("no such enrollment token");
  return ReadEnrollment(q);
}

Result<std::vector<EnrollmentTokenRecord>> SqliteAuthStore::ListEnrollmentTokens(
    const std::string& fleet_id) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q,
                         db_.Prepare(std::string("SELECT ") + kEnrollCols +
                                     " FROM enrollment_tokens WHERE fleet_id=? ORDER BY rowid"));
  q.Bind(1, fleet_id);
  std::vector<EnrollmentTokenRecord> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(ReadEnrollment(q));
  }
}

Status SqliteAuthStore::RevokeEnrollmentToken(const std::string& fleet_id, const std::string& id,
                                              TimeMs at) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("UPDATE enrollment_tokens SET revoked_at=CASE WHEN "
                                             "revoked_at=0 THEN ? ELSE revoked_at END "
                                             "WHERE id=? AND fleet_id=?"));
  OXIDE_RETURN_IF_ERROR(q.Bind(1, at).Bind(2, id).Bind(3, fleet_id).Run());
  if (db_.Changes() == 0) return NotFound("enrollment token '" + id + "' not found");
  return Status::Ok();
}

Result<std::optional<DeviceAuthRecord>> SqliteAuthStore::GetDeviceAuth(
    const std::string& device_id) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT device_id, state, secret_sha256, updated_at "
                                             "FROM device_auth WHERE device_id=?"));
  q.Bind(1, device_id);
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<DeviceAuthRecord>();
  DeviceAuthRecord r;
  r.device_id = q.Text(0);
  OXIDE_ASSIGN_OR_RETURN(r.state, ParseDeviceAuthState(q.Text(1)));
  r.secret_sha256 = q.Text(2);
  r.updated_at = q.Int(3);
  return std::optional<DeviceAuthRecord>(std::move(r));
}

Status SqliteAuthStore::PutDeviceAuth(const DeviceAuthRecord& r) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("INSERT OR REPLACE INTO device_auth(device_id, "
                                             "state, secret_sha256, updated_at) VALUES(?,?,?,?)"));
  return q.Bind(1, r.device_id)
      .Bind(2, ToString(r.state))
      .Bind(3, r.secret_sha256)
      .Bind(4, r.updated_at)
      .Run();
}

Result<AuditRecord> SqliteAuditStore::Append(const AuditRecord& r) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("INSERT INTO audit_log(at, actor_id, actor_name, "
                                             "action, target, remote_address, detail) "
                                             "VALUES(?,?,?,?,?,?,?)"));
  OXIDE_RETURN_IF_ERROR(q.Bind(1, r.at)
                            .Bind(2, r.actor_id)
                            .Bind(3, r.actor_name)
                            .Bind(4, r.action)
                            .Bind(5, r.target)
                            .Bind(6, r.remote_address)
                            .Bind(7, r.detail)
                            .Run());
  AuditRecord out = r;
  out.id = db_.LastInsertId();
  return out;
}

Result<std::vector<AuditRecord>> SqliteAuditStore::List(size_t limit) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT id, at, actor_id, actor_name, action, "
                                             "target, remote_address, detail FROM audit_log "
                                             "ORDER BY id DESC LIMIT ?"));
  q.Bind(1, static_cast<int64_t>(limit));
  std::vector<AuditRecord> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(AuditRecord{q.Int(0), q.Int(1), q.Text(2), q.Text(3), q.Text(4), q.Text(5),
                              q.Text(6), q.Text(7)});
  }
}

}  // namespace oxide::store::sqlite::internal
