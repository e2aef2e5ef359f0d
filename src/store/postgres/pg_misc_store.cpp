// Attempts, clearances, releases, auth, audit, stats and the shared event log over PostgreSQL.
#include "store/decimal_text.hpp"
#include "store/postgres/pg_store_internal.hpp"

namespace oxide::store::postgres::internal {
namespace {

constexpr const char* kAttemptCols =
    "seq, device_id, report_id, campaign_id, model_id, version, outcome, stage, local, "
    "exit_status, error, output, at, device_at";

Result<AttemptRecord> ReadAttempt(const Rows& q, size_t r) {
  AttemptRecord a;
  a.seq = q.Int(r, 0);
  a.device_id = q.Text(r, 1);
  a.report_id = q.Text(r, 2);
  a.campaign_id = q.Text(r, 3);
  a.model_id = q.Text(r, 4);
  a.version = q.Text(r, 5);
  OXIDE_ASSIGN_OR_RETURN(a.outcome, ParseAttemptOutcome(q.Text(r, 6)));
  OXIDE_ASSIGN_OR_RETURN(a.stage, ParseAttemptStage(q.Text(r, 7)));
  a.local = q.Int(r, 8) != 0;
  if (!q.IsNull(r, 9)) a.exit_status = static_cast<int>(q.Int(r, 9));
  a.error = q.Text(r, 10);
  a.output = q.Text(r, 11);
  a.at = q.Int(r, 12);
  a.device_at = q.Int(r, 13);
  return a;
}

constexpr const char* kTokenCols = "id, name, role, sha256, created_at, revoked_at, last_used";

Result<OperatorTokenRecord> ReadToken(const Rows& q, size_t r) {
  OperatorTokenRecord t;
  t.id = q.Text(r, 0);
  t.name = q.Text(r, 1);
  OXIDE_ASSIGN_OR_RETURN(t.role, ParseOperatorRole(q.Text(r, 2)));
  t.sha256 = q.Text(r, 3);
  t.created_at = q.Int(r, 4);
  t.revoked_at = q.Int(r, 5);
  t.last_used = q.Int(r, 6);
  return t;
}

constexpr const char* kEnrollCols = "id, fleet_id, sha256, created_at, revoked_at";

EnrollmentTokenRecord ReadEnrollment(const Rows& q, size_t r) {
  return EnrollmentTokenRecord{q.Text(r, 0), q.Text(r, 1), q.Text(r, 2), q.Int(r, 3), q.Int(r, 4)};
}

Result<uint64_t> CountOne(Db& db, const char* sql) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db.Exec(sql));
  return q.U64(0, 0);
}

}  // namespace

// ---- attempts --------------------------------------------------------------------------

Result<bool> PgAttemptStore::Add(const AttemptRecord& a) {
  // The partial unique index on (device_id, report_id) makes a re-sent report a no-op.
  Params p;
  p.Add(a.device_id).Add(a.report_id).Add(a.campaign_id).Add(a.model_id).Add(a.version);
  p.Add(ToString(a.outcome)).Add(ToString(a.stage)).Add(int64_t{a.local ? 1 : 0});
  if (a.exit_status) {
    p.Add(int64_t{*a.exit_status});
  } else {
    p.AddNull();
  }
  p.Add(a.error).Add(a.output).Add(a.at).Add(a.device_at);
  OXIDE_ASSIGN_OR_RETURN(
      Rows q, db_.Exec("INSERT INTO attempts(device_id, report_id, campaign_id, model_id, version, "
                       "outcome, stage, local, exit_status, error, output, at, device_at) "
                       "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9::bigint,$10,$11,$12,$13) "
                       "ON CONFLICT DO NOTHING",
                       p));
  return q.affected() > 0;
}

Result<std::vector<AttemptRecord>> PgAttemptStore::Query(const std::string& where,
                                                         const std::string& key, size_t limit,
                                                         bool newest_first) {
  OXIDE_ASSIGN_OR_RETURN(
      Rows q, db_.Exec(std::string("SELECT ") + kAttemptCols + " FROM attempts WHERE " + where +
                           " ORDER BY seq " + (newest_first ? "DESC" : "ASC") + " LIMIT $2",
                       Params().Add(key).AddLimit(limit)));
  std::vector<AttemptRecord> out;
  for (size_t r = 0; r < q.size(); ++r) {
    OXIDE_ASSIGN_OR_RETURN(auto a, ReadAttempt(q, r));
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::vector<AttemptRecord>> PgAttemptStore::ListForDevice(const std::string& device_id,
                                                                 size_t limit) {
  return Query("device_id=$1", device_id, limit, true);
}

Result<std::vector<AttemptRecord>> PgAttemptStore::ListForCampaign(const std::string& campaign_id,
                                                                   size_t limit) {
  return Query("campaign_id=$1", campaign_id, limit, true);
}

Result<std::optional<AttemptRecord>> PgAttemptStore::FirstFailureOfCampaign(
    const std::string& campaign_id) {
  OXIDE_ASSIGN_OR_RETURN(auto first,
                         Query("campaign_id=$1 AND outcome<>'fallback'", campaign_id, 1, false));
  if (first.empty()) return std::optional<AttemptRecord>();
  return std::optional<AttemptRecord>(std::move(first.front()));
}

// ---- refusal clearances ----------------------------------------------------------------

Result<ClearanceRecord> PgClearanceStore::Add(const ClearanceRecord& c) {
  // The unique index on (device_id, model_id, version) keeps one pending clearance per version
  // even when two replicas add it at once.
  OXIDE_ASSIGN_OR_RETURN(
      Rows ins,
      db_.Exec("INSERT INTO refusal_clearances(device_id, model_id, "
               "version, created_at) VALUES($1,$2,$3,$4) "
               "ON CONFLICT DO NOTHING RETURNING id, created_at",
               Params().Add(c.device_id).Add(c.model_id).Add(c.version).Add(c.created_at)));
  Rows q = std::move(ins);
  if (q.empty()) {
    OXIDE_ASSIGN_OR_RETURN(q, db_.Exec("SELECT id, created_at FROM refusal_clearances WHERE "
                                       "device_id=$1 AND model_id=$2 AND version=$3",
                                       Params().Add(c.device_id).Add(c.model_id).Add(c.version)));
    if (q.empty()) return Unavailable("clearance acknowledged while being added; retry");
  }
  ClearanceRecord out = c;
  out.id = q.Int(0, 0);
  out.created_at = q.Int(0, 1);
  return out;
}

Result<std::vector<ClearanceRecord>> PgClearanceStore::Pending(const std::string& device_id) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("SELECT id, device_id, model_id, version, created_at "
                                          "FROM refusal_clearances WHERE device_id=$1 ORDER BY id",
                                          Params().Add(device_id)));
  std::vector<ClearanceRecord> out;
  for (size_t r = 0; r < q.size(); ++r) {
    out.push_back(
        ClearanceRecord{q.Int(r, 0), q.Text(r, 1), q.Text(r, 2), q.Text(r, 3), q.Int(r, 4)});
  }
  return out;
}

Status PgClearanceStore::Acknowledge(const std::string& device_id,
                                     const std::vector<int64_t>& ids) {
  for (int64_t id : ids) {
    OXIDE_RETURN_IF_ERROR(db_.Exec("DELETE FROM refusal_clearances WHERE device_id=$1 AND id=$2",
                                   Params().Add(device_id).Add(id))
                              .status());
  }
  return Status::Ok();
}

// ---- releases --------------------------------------------------------------------------

Status PgReleaseStore::Put(const std::string& model_id, const std::string& version,
                           const std::string& envelope_json, TimeMs now) {
  return db_
      .Exec(
          "INSERT INTO model_releases(model_id, version, envelope, updated_at) "
          "VALUES($1,$2,$3,$4) ON CONFLICT (model_id, version) DO UPDATE SET "
          "envelope=excluded.envelope, updated_at=excluded.updated_at",
          Params().Add(model_id).Add(version).Add(envelope_json).Add(now))
      .status();
}

Result<std::string> PgReleaseStore::Get(const std::string& model_id, const std::string& version) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("SELECT envelope FROM model_releases WHERE "
                                          "model_id=$1 AND version=$2",
                                          Params().Add(model_id).Add(version)));
  if (q.empty()) return NotFound("no signed release for " + model_id + "@" + version);
  return q.Text(0, 0);
}

Status PgReleaseStore::AppendKeySet(uint64_t version, const std::string& envelope_json,
                                    TimeMs now) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("INSERT INTO release_key_sets(version, envelope, "
                                          "created_at) VALUES($1,$2,$3) ON CONFLICT DO NOTHING",
                                          Params().AddU64(version).Add(envelope_json).Add(now)));
  if (q.affected() == 0) {
    return AlreadyExists("key set v" + std::to_string(version) + " already exists");
  }
  return Status::Ok();
}

Result<std::vector<std::string>> PgReleaseStore::ListKeySets() {
  OXIDE_ASSIGN_OR_RETURN(Rows q,
                         db_.Exec("SELECT envelope FROM release_key_sets ORDER BY version"));
  std::vector<std::string> out;
  for (size_t r = 0; r < q.size(); ++r) out.push_back(q.Text(r, 0));
  return out;
}

// ---- golden files (issue #11) ------------------------------------------------------------

Status PgGoldenStore::Put(const GoldenRecord& g) {
  return db_
      .Exec(
          "INSERT INTO model_golden(model_id, version, sha256, size_bytes, tolerance, "
          "latency_budget_ms, uploaded_at) VALUES($1,$2,$3,$4,$5,$6,$7) "
          "ON CONFLICT (model_id, version) DO UPDATE SET sha256=excluded.sha256, "
          "size_bytes=excluded.size_bytes, tolerance=excluded.tolerance, "
          "latency_budget_ms=excluded.latency_budget_ms, uploaded_at=excluded.uploaded_at",
          Params()
              .Add(g.model_id)
              .Add(g.version)
              .Add(g.sha256)
              .AddU64(g.size_bytes)
              .Add(DecimalText(g.tolerance))
              .Add(DecimalText(g.latency_budget_ms))
              .Add(g.uploaded_at))
      .status();
}

Result<std::optional<GoldenRecord>> PgGoldenStore::Get(const std::string& model_id,
                                                       const std::string& version) {
  OXIDE_ASSIGN_OR_RETURN(
      Rows q, db_.Exec("SELECT sha256, size_bytes, tolerance, latency_budget_ms, uploaded_at "
                       "FROM model_golden WHERE model_id=$1 AND version=$2",
                       Params().Add(model_id).Add(version)));
  if (q.empty()) return std::optional<GoldenRecord>();
  GoldenRecord g;
  g.model_id = model_id;
  g.version = version;
  g.sha256 = q.Text(0, 0);
  g.size_bytes = q.U64(0, 1);
  g.tolerance = ParseDecimalText(q.Text(0, 2)).value_or(0);
  g.latency_budget_ms = ParseDecimalText(q.Text(0, 3));
  g.uploaded_at = q.Int(0, 4);
  return std::optional<GoldenRecord>(std::move(g));
}

Status PgGoldenStore::Delete(const std::string& model_id, const std::string& version) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("DELETE FROM model_golden WHERE model_id=$1 AND "
                                          "version=$2",
                                          Params().Add(model_id).Add(version)));
  if (q.affected() == 0) return NotFound("no golden file for " + model_id + "@" + version);
  return Status::Ok();
}

Result<std::vector<std::string>> PgGoldenStore::ListBlobShas() {
  OXIDE_ASSIGN_OR_RETURN(Rows q,
                         db_.Exec("SELECT DISTINCT sha256 FROM model_golden ORDER BY sha256"));
  std::vector<std::string> out;
  for (size_t r = 0; r < q.size(); ++r) out.push_back(q.Text(r, 0));
  return out;
}

// ---- auth ------------------------------------------------------------------------------

Status PgAuthStore::CreateOperatorToken(const OperatorTokenRecord& t) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("INSERT INTO operator_tokens(id, name, role, sha256, "
                                          "created_at, revoked_at, last_used) "
                                          "VALUES($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING",
                                          Params()
                                              .Add(t.id)
                                              .Add(t.name)
                                              .Add(ToString(t.role))
                                              .Add(t.sha256)
                                              .Add(t.created_at)
                                              .Add(t.revoked_at)
                                              .Add(t.last_used)));
  if (q.affected() == 0) return AlreadyExists("operator token '" + t.id + "' already exists");
  return Status::Ok();
}

Result<OperatorTokenRecord> PgAuthStore::FindOperatorToken(const std::string& sha256) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec(std::string("SELECT ") + kTokenCols +
                                              " FROM operator_tokens WHERE sha256=$1",
                                          Params().Add(sha256)));
  if (q.empty()) return NotFound("no such token");
  return ReadToken(q, 0);
}

Result<std::vector<OperatorTokenRecord>> PgAuthStore::ListOperatorTokens() {
  OXIDE_ASSIGN_OR_RETURN(
      Rows q, db_.Exec(std::string("SELECT ") + kTokenCols + " FROM operator_tokens ORDER BY ord"));
  std::vector<OperatorTokenRecord> out;
  for (size_t r = 0; r < q.size(); ++r) {
    OXIDE_ASSIGN_OR_RETURN(auto t, ReadToken(q, r));
    out.push_back(std::move(t));
  }
  return out;
}

Status PgAuthStore::RevokeOperatorToken(const std::string& id, TimeMs at) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("UPDATE operator_tokens SET revoked_at=CASE WHEN "
                                          "revoked_at=0 THEN $1 ELSE revoked_at END WHERE id=$2",
                                          Params().Add(at).Add(id)));
  if (q.affected() == 0) return NotFound("token '" + id + "' not found");
  return Status::Ok();
}

Status PgAuthStore::TouchOperatorToken(const std::string& id, TimeMs at) {
  return db_.Exec("UPDATE operator_tokens SET last_used=$1 WHERE id=$2", Params().Add(at).Add(id))
      .status();
}

Result<uint64_t> PgAuthStore::CountOperatorTokens() {
  return CountOne(db_, "SELECT COUNT(*) FROM operator_tokens");
}

Status PgAuthStore::CreateEnrollmentToken(const EnrollmentTokenRecord& t) {
  OXIDE_ASSIGN_OR_RETURN(
      Rows q,
      db_.Exec(
          "INSERT INTO enrollment_tokens(id, fleet_id, sha256, "
          "created_at, revoked_at) VALUES($1,$2,$3,$4,$5) "
          "ON CONFLICT DO NOTHING",
          Params().Add(t.id).Add(t.fleet_id).Add(t.sha256).Add(t.created_at).Add(t.revoked_at)));
  if (q.affected() == 0) return AlreadyExists("enrollment token '" + t.id + "' already exists");
  return Status::Ok();
}

Result<EnrollmentTokenRecord> PgAuthStore::FindEnrollmentToken(const std::string& sha256) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec(std::string("SELECT ") + kEnrollCols +
                                              " FROM enrollment_tokens WHERE sha256=$1",
                                          Params().Add(sha256)));
  if (q.empty()) return NotFound("no such enrollment token");
  return ReadEnrollment(q, 0);
}

Result<std::vector<EnrollmentTokenRecord>> PgAuthStore::ListEnrollmentTokens(
    const std::string& fleet_id) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec(std::string("SELECT ") + kEnrollCols +
                                              " FROM enrollment_tokens WHERE fleet_id=$1 ORDER "
                                              "BY ord",
                                          Params().Add(fleet_id)));
  std::vector<EnrollmentTokenRecord> out;
  for (size_t r = 0; r < q.size(); ++r) out.push_back(ReadEnrollment(q, r));
  return out;
}

Status PgAuthStore::RevokeEnrollmentToken(const std::string& fleet_id, const std::string& id,
                                          TimeMs at) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("UPDATE enrollment_tokens SET revoked_at=CASE WHEN "
                                          "revoked_at=0 THEN $1 ELSE revoked_at END "
                                          "WHERE id=$2 AND fleet_id=$3",
                                          Params().Add(at).Add(id).Add(fleet_id)));
  if (q.affected() == 0) return NotFound("enrollment token '" + id + "' not found");
  return Status::Ok();
}

Result<std::optional<DeviceAuthRecord>> PgAuthStore::GetDeviceAuth(const std::string& device_id) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("SELECT device_id, state, secret_sha256, updated_at "
                                          "FROM device_auth WHERE device_id=$1",
                                          Params().Add(device_id)));
  if (q.empty()) return std::optional<DeviceAuthRecord>();
  DeviceAuthRecord r;
  r.device_id = q.Text(0, 0);
  OXIDE_ASSIGN_OR_RETURN(r.state, ParseDeviceAuthState(q.Text(0, 1)));
  r.secret_sha256 = q.Text(0, 2);
  r.updated_at = q.Int(0, 3);
  return std::optional<DeviceAuthRecord>(std::move(r));
}

Status PgAuthStore::PutDeviceAuth(const DeviceAuthRecord& r) {
  return db_
      .Exec(
          "INSERT INTO device_auth(device_id, state, secret_sha256, updated_at) "
          "VALUES($1,$2,$3,$4) ON CONFLICT (device_id) DO UPDATE SET state=excluded.state, "
          "secret_sha256=excluded.secret_sha256, updated_at=excluded.updated_at",
          Params().Add(r.device_id).Add(ToString(r.state)).Add(r.secret_sha256).Add(r.updated_at))
      .status();
}

// ---- audit -----------------------------------------------------------------------------

Result<AuditRecord> PgAuditStore::Append(const AuditRecord& r) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("INSERT INTO audit_log(at, actor_id, actor_name, "
                                          "action, target, remote_address, detail) "
                                          "VALUES($1,$2,$3,$4,$5,$6,$7) RETURNING id",
                                          Params()
                                              .Add(r.at)
                                              .Add(r.actor_id)
                                              .Add(r.actor_name)
                                              .Add(r.action)
                                              .Add(r.target)
                                              .Add(r.remote_address)
                                              .Add(r.detail)));
  AuditRecord out = r;
  out.id = q.Int(0, 0);
  return out;
}

Result<std::vector<AuditRecord>> PgAuditStore::List(size_t limit) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("SELECT id, at, actor_id, actor_name, action, target, "
                                          "remote_address, detail FROM audit_log "
                                          "ORDER BY id DESC LIMIT $1",
                                          Params().AddLimit(limit)));
  std::vector<AuditRecord> out;
  for (size_t r = 0; r < q.size(); ++r) {
    out.push_back(AuditRecord{q.Int(r, 0), q.Int(r, 1), q.Text(r, 2), q.Text(r, 3), q.Text(r, 4),
                              q.Text(r, 5), q.Text(r, 6), q.Text(r, 7)});
  }
  return out;
}

// ---- stats -----------------------------------------------------------------------------

Status PgStatsStore::AddBandwidth(TimeMs at, uint64_t served, uint64_t full_equivalent) {
  constexpr int64_t kHourMs = 3'600'000;
  const int64_t hour = (at - ((at % kHourMs) + kHourMs) % kHourMs) / 1000;  // floor, UTC
  return db_
      .Exec(
          "INSERT INTO bandwidth_hourly(hour, bytes_served, bytes_full) VALUES($1,$2,$3) "
          "ON CONFLICT (hour) DO UPDATE SET "
          "bytes_served=bandwidth_hourly.bytes_served+excluded.bytes_served, "
          "bytes_full=bandwidth_hourly.bytes_full+excluded.bytes_full",
          Params().Add(hour).AddU64(served).AddU64(full_equivalent))
      .status();
}

Result<std::vector<BandwidthRecord>> PgStatsStore::ListBandwidth(int64_t from_s, int64_t to_s) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("SELECT hour, bytes_served, bytes_full FROM "
                                          "bandwidth_hourly WHERE hour>=$1 AND hour<$2 "
                                          "ORDER BY hour",
                                          Params().Add(from_s).Add(to_s)));
  std::vector<BandwidthRecord> out;
  for (size_t r = 0; r < q.size(); ++r) {
    out.push_back(BandwidthRecord{q.Int(r, 0), q.U64(r, 1), q.U64(r, 2)});
  }
  return out;
}

Result<uint64_t> PgStatsStore::CountDevices() {
  return CountOne(db_, "SELECT COUNT(*) FROM devices");
}

Result<uint64_t> PgStatsStore::CountPendingPatches() {
  return CountOne(db_, "SELECT COUNT(*) FROM patches WHERE state='pending'");
}

Result<std::vector<std::pair<std::string, uint64_t>>> PgStatsStore::CountCampaignsByState() {
  OXIDE_ASSIGN_OR_RETURN(
      Rows q, db_.Exec("SELECT state, COUNT(*) FROM campaigns GROUP BY state ORDER BY state"));
  std::vector<std::pair<std::string, uint64_t>> out;
  for (size_t r = 0; r < q.size(); ++r) out.emplace_back(q.Text(r, 0), q.U64(r, 1));
  return out;
}

// ---- event log -------------------------------------------------------------------------

Result<int64_t> PgEventLogStore::Append(const std::string& type, const std::string& data,
                                        TimeMs at) {
  int64_t seq = 0;
  // The lock is held until COMMIT and the seq is drawn after it: seqs become visible in order,
  // so a reader that saw seq N never later finds a smaller one. Inside a caller's transaction
  // the lock is held until that one commits, which keeps the same guarantee.
  Status appended = db_.InTransaction(0, [&]() -> Status {
    OXIDE_RETURN_IF_ERROR(
        db_.Exec("SELECT pg_advisory_xact_lock($1)", Params().Add(kEventLogLockKey)).status());
    OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("INSERT INTO event_log(type, data, at) "
                                            "VALUES($1,$2,$3) RETURNING seq",
                                            Params().Add(type).Add(data).Add(at)));
    seq = q.Int(0, 0);
    return Status::Ok();
  });
  OXIDE_RETURN_IF_ERROR(appended);
  return seq;
}

Result<std::vector<int64_t>> PgEventLogStore::AppendBatch(
    const std::vector<EventLogRecord>& events) {
  std::vector<int64_t> seqs;
  if (events.empty()) return seqs;
  // One lock and one COMMIT for the whole batch; seqs drawn after the lock, as in Append.
  Status appended = db_.InTransaction(0, [&]() -> Status {
    OXIDE_RETURN_IF_ERROR(
        db_.Exec("SELECT pg_advisory_xact_lock($1)", Params().Add(kEventLogLockKey)).status());
    for (const auto& e : events) {
      OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("INSERT INTO event_log(type, data, at) "
                                              "VALUES($1,$2,$3) RETURNING seq",
                                              Params().Add(e.type).Add(e.data).Add(e.at)));
      seqs.push_back(q.Int(0, 0));
    }
    return Status::Ok();
  });
  OXIDE_RETURN_IF_ERROR(appended);
  return seqs;
}

Result<int64_t> PgEventLogStore::MinSeq() {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("SELECT COALESCE(MIN(seq), 0) FROM event_log"));
  return q.Int(0, 0);
}

Result<std::vector<EventLogRecord>> PgEventLogStore::ListAfter(int64_t after, size_t limit) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("SELECT seq, type, data, at FROM event_log WHERE "
                                          "seq>$1 ORDER BY seq LIMIT $2",
                                          Params().Add(after).AddLimit(limit)));
  std::vector<EventLogRecord> out;
  for (size_t r = 0; r < q.size(); ++r) {
    out.push_back(EventLogRecord{q.Int(r, 0), q.Text(r, 1), q.Text(r, 2), q.Int(r, 3)});
  }
  return out;
}

Status PgEventLogStore::Trim(int64_t up_to) {
  return db_.Exec("DELETE FROM event_log WHERE seq<=$1", Params().Add(up_to)).status();
}

Result<std::string> PgEventLogStore::DatabaseId() {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("SELECT id FROM database_info LIMIT 1"));
  if (q.empty()) return Internal("postgresql: database_info has no id");
  return q.Text(0, 0);
}

}  // namespace oxide::store::postgres::internal
