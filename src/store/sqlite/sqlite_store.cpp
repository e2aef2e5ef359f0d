#include "store/sqlite/sqlite_store.hpp"

#include "store/sqlite/sqlite_store_internal.hpp"

namespace oxide::store::sqlite {
namespace {

using internal::Lock;

// Append-only: a released migration is never edited; a schema change is a new entry.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE devices (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL DEFAULT 0, reported_status TEXT NOT NULL DEFAULT '',
  agent_version TEXT NOT NULL DEFAULT '', current_model TEXT NOT NULL DEFAULT '',
  current_version TEXT NOT NULL DEFAULT '', current_sha256 TEXT NOT NULL DEFAULT '',
  bytes_served INTEGER NOT NULL DEFAULT 0, bytes_full INTEGER NOT NULL DEFAULT 0);
CREATE INDEX devices_last_seen ON devices(last_seen);
CREATE INDEX devices_current_model ON devices(current_model);
CREATE TABLE device_tags (device_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (device_id, key));
CREATE TABLE fleets (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE fleet_devices (fleet_id TEXT NOT NULL, device_id TEXT NOT NULL,
  seq INTEGER NOT NULL, PRIMARY KEY (fleet_id, device_id));
CREATE INDEX fleet_devices_device ON fleet_devices(device_id);
CREATE TABLE model_versions (model_id TEXT NOT NULL, version TEXT NOT NULL,
  sha256 TEXT NOT NULL, size_bytes INTEGER NOT NULL, format TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (model_id, version));
CREATE INDEX model_versions_sha ON model_versions(sha256);
CREATE TABLE patches (base_sha256 TEXT NOT NULL, target_sha256 TEXT NOT NULL,
  state TEXT NOT NULL, patch_sha256 TEXT NOT NULL DEFAULT '',
  patch_size INTEGER NOT NULL DEFAULT 0, strategy TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  seq INTEGER NOT NULL, PRIMARY KEY (base_sha256, target_sha256));
CREATE INDEX patches_state ON patches(state, seq);
CREATE TABLE assignments (device_id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL,
  model_id TEXT NOT NULL, version TEXT NOT NULL, sha256 TEXT NOT NULL,
  size_bytes INTEGER NOT NULL);
CREATE TABLE campaigns (id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE,
  model_id TEXT NOT NULL, version TEXT NOT NULL, target_sha256 TEXT NOT NULL,
  target_size INTEGER NOT NULL, fleet_id TEXT NOT NULL, strategy TEXT NOT NULL,
  canary_percent INTEGER NOT NULL, batch_size INTEGER NOT NULL,
  failure_threshold_count INTEGER NOT NULL, failure_threshold_percent INTEGER NOT NULL,
  state TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  bytes_served INTEGER NOT NULL DEFAULT 0, bytes_full INTEGER NOT NULL DEFAULT 0);
CREATE TABLE campaign_devices (campaign_id TEXT NOT NULL, device_id TEXT NOT NULL,
  ordinal INTEGER NOT NULL, state TEXT NOT NULL, bytes_done INTEGER NOT NULL DEFAULT 0,
  bytes_total INTEGER NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '',
  bytes_served INTEGER NOT NULL DEFAULT 0, bytes_full INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL DEFAULT 0, prev_campaign_id TEXT, prev_model_id TEXT,
  prev_version TEXT, prev_sha256 TEXT, prev_size INTEGER,
  PRIMARY KEY (campaign_id, device_id));
)sql",
      // 2: patch build retries (attempts persisted before each build; backoff for I/O errors)
      // and the per-device campaign lookup used when a device is deleted.
      R"sql(
ALTER TABLE patches ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE patches ADD COLUMN not_before INTEGER NOT NULL DEFAULT 0;
CREATE INDEX campaign_devices_device ON campaign_devices(device_id);
)sql",
      // 3: campaign outcomes: the failure history (attempts), refusal clearances, the device's
      // platform and last update result, fleet description and tags.
      R"sql(
ALTER TABLE devices ADD COLUMN platform_os TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN platform_arch TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN platform_cpus INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN last_result TEXT NOT NULL DEFAULT 'none';
ALTER TABLE devices ADD COLUMN last_result_error TEXT NOT NULL DEFAULT '';
ALTER TABLE fleets ADD COLUMN description TEXT NOT NULL DEFAULT '';
CREATE TABLE fleet_tags (fleet_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (fleet_id, key));
CREATE TABLE attempts (seq INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL,
  report_id TEXT NOT NULL DEFAULT '', campaign_id TEXT NOT NULL DEFAULT '',
  model_id TEXT NOT NULL, version TEXT NOT NULL, outcome TEXT NOT NULL, stage TEXT NOT NULL,
  local INTEGER NOT NULL DEFAULT 0, exit_status INTEGER, error TEXT NOT NULL DEFAULT '',
  output TEXT NOT NULL DEFAULT '', at INTEGER NOT NULL, device_at INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX attempts_report ON attempts(device_id, report_id) WHERE report_id <> '';
CREATE INDEX attempts_device ON attempts(device_id, seq);
CREATE INDEX attempts_campaign ON attempts(campaign_id, seq);
CREATE TABLE refusal_clearances (id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL, model_id TEXT NOT NULL, version TEXT NOT NULL,
  created_at INTEGER NOT NULL);
CREATE INDEX refusal_clearances_device ON refusal_clearances(device_id, id);
)sql",
      // 4: the tensor index of each model blob, computed once at upload and
      // served by GET .../meta (a 1M-tensor header is too slow to parse per request); patch
      // lookup by blob for garbage collection and corrupt-blob repair.
      R"sql(
CREATE TABLE tensor_indexes (sha256 TEXT PRIMARY KEY, format TEXT NOT NULL,
  tensor_count INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX patches_patch_sha ON patches(patch_sha256);
)sql",
      // 5: who may do what: operator tokens, fleet enrollment tokens, device credentials and
      // acceptance, and the audit log of operator actions. Secrets are stored as SHA-256 only.
      R"sql(
CREATE TABLE operator_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL DEFAULT 0, last_used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE enrollment_tokens (id TEXT PRIMARY KEY, fleet_id TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL DEFAULT 0);
CREATE INDEX enrollment_tokens_fleet ON enrollment_tokens(fleet_id);
CREATE TABLE device_auth (device_id TEXT PRIMARY KEY, state TEXT NOT NULL,
  secret_sha256 TEXT NOT NULL DEFAULT '', updated_at INTEGER NOT NULL);
CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,
  actor_id TEXT NOT NULL, actor_name TEXT NOT NULL, action TEXT NOT NULL,
  target TEXT NOT NULL, remote_address TEXT NOT NULL, detail TEXT NOT NULL);
)sql",
      // 6 (5 is the operator/device auth schema, merged before it): signed release metadata
      // per model version and the release key set chain (issue #9). Additive only.
      R"sql(
CREATE TABLE model_releases (model_id TEXT NOT NULL, version TEXT NOT NULL,
  envelope TEXT NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (model_id, version));
CREATE TABLE release_key_sets (version INTEGER PRIMARY KEY, envelope TEXT NOT NULL,
  created_at INTEGER NOT NULL);
)sql",
      // 7: targeting (issue #10): device inventory from heartbeats, campaign targets and
      // approval, and the indexes of the filtered list pages.
      R"sql(
CREATE TABLE device_inventory (device_id TEXT PRIMARY KEY, os TEXT NOT NULL,
  os_version TEXT NOT NULL, arch TEXT NOT NULL, agent_version TEXT NOT NULL,
  free_disk_bytes INTEGER, updated_at INTEGER NOT NULL);
CREATE TABLE device_inventory_attributes (device_id TEXT NOT NULL, key TEXT NOT NULL,
  value TEXT NOT NULL, PRIMARY KEY (device_id, key));
CREATE INDEX device_tags_kv ON device_tags(key, value);
ALTER TABLE campaigns ADD COLUMN has_target INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN require_approval INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN approved_at INTEGER NOT NULL DEFAULT 0;
CREATE TABLE campaign_targets (campaign_id TEXT NOT NULL, kind TEXT NOT NULL,
  key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (campaign_id, kind, key));
CREATE INDEX campaigns_state ON campaigns(state, seq);
)sql",
      // 8 (ops, issue #10): bytes served and their full-file equivalent per UTC hour, for
      // GET /api/v1/stats/bandwidth; booked with the device's bytes, in the same transaction.
      R"sql(
CREATE TABLE bandwidth_hourly (hour INTEGER PRIMARY KEY, bytes_served INTEGER NOT NULL,
  bytes_full INTEGER NOT NULL);
)sql",
      // 9 (replicas, issue #12): patch-job leases (several servers share one queue), the shared
      // event log every replica tails, and the database's id (the SSE stream_id of all of them).
      // AUTOINCREMENT: a trimmed seq is never handed out again.
      R"sql(
ALTER TABLE patches ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE patches ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
CREATE TABLE event_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL,
  data TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE database_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO database_info(key, value) VALUES ('database_id', lower(hex(randomblob(16))));
)sql",
      // 10 (capacity, issue #12): joining a fleet numbers the member with MAX(seq) of the fleet;
      // without this index that reads every member, so enrolling the 10,000th device into one
      // fleet cost 10,000 row reads (~200 enrolments/s instead of ~1,300/s). Also orders
      // ListDevices.
      R"sql(
CREATE INDEX fleet_devices_seq ON fleet_devices(fleet_id, seq);
)sql",
      // 11 (model signatures, issue #11): each version's graph inputs/outputs (JSON of
      // tensor::EncodeSignature; '' without a graph) and how they differ from the version before
      // it, and the campaign's explicit override to roll such a version out.
      R"sql(
ALTER TABLE model_versions ADD COLUMN signature TEXT NOT NULL DEFAULT '';
ALTER TABLE model_versions ADD COLUMN signature_change TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN allow_signature_change INTEGER NOT NULL DEFAULT 0;
)sql",
      // 12 (golden checks, issue #11): one golden file per model version. A table of its own, not
      // columns of model_versions: re-uploading a version keeps its golden file. tolerance and
      // latency_budget_ms are decimal text ('' = no budget), exactly as the API shows them.
      R"sql(
CREATE TABLE model_golden (model_id TEXT NOT NULL, version TEXT NOT NULL,
  sha256 TEXT NOT NULL, size_bytes INTEGER NOT NULL, tolerance TEXT NOT NULL,
  latency_budget_ms TEXT NOT NULL DEFAULT '', uploaded_at INTEGER NOT NULL,
  PRIMARY KEY (model_id, version));
)sql",
  };
  return kMigrations;
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::unique_ptr<Db> db)
      : db_(std::move(db)),
        devices_(*db_),
        fleets_(*db_),
        models_(*db_),
        patches_(*db_),
        assignments_(*db_),
        campaigns_(*db_),
        attempts_(*db_),
        clearances_(*db_),
        releases_(*db_),
        auth_(*db_),
        audit_(*db_),
        stats_(*db_),
        event_log_(*db_),
        golden_(*db_) {}

  DeviceStore& devices() override { return devices_; }
  FleetStore& fleets() override { return fleets_; }
  ModelStore& models() override { return models_; }
  PatchStore& patches() override { return patches_; }
  AssignmentStore& assignments() override { return assignments_; }
  CampaignStore& campaigns() override { return campaigns_; }
  AttemptStore& attempts() override { return attempts_; }
  ClearanceStore& clearances() override { return clearances_; }
  ReleaseStore& releases() override { return releases_; }
  AuthStore& auth() override { return auth_; }
  AuditStore& audit() override { return audit_; }
  StatsStore& stats() override { return stats_; }
  EventLogStore& event_log() override { return event_log_; }
  GoldenStore& golden() override { return golden_; }

  Status InTransaction(const std::function<Status()>& fn) override {
    Lock lock(db_->mu());
    OXIDE_RETURN_IF_ERROR(db_->Begin());
    Status st = Status::Ok();
    try {
      st = fn();
    } catch (...) {
      // Not left open (every later transaction would join it): undone, then rethrown.
      static_cast<void>(db_->End(false));
      throw;
    }
    Status end = db_->End(st.ok());
    if (!st.ok()) return st;
    return end;
  }
  Status InSavepoint(const std::function<Status()>& fn) override {
    Lock lock(db_->mu());
    if (!db_->InTransaction()) return InTransaction(fn);
    return db_->Savepoint(fn);
  }

 private:
  std::unique_ptr<Db> db_;
  internal::SqliteDeviceStore devices_;
  internal::SqliteFleetStore fleets_;
  internal::SqliteModelStore models_;
  internal::SqlitePatchStore patches_;
  internal::SqliteAssignmentStore assignments_;
  internal::SqliteCampaignStore campaigns_;
  internal::SqliteAttemptStore attempts_;
  internal::SqliteClearanceStore clearances_;
  internal::SqliteReleaseStore releases_;
  internal::SqliteAuthStore auth_;
  internal::SqliteAuditStore audit_;
  internal::SqliteStatsStore stats_;
  internal::SqliteEventLogStore event_log_;
  internal::SqliteGoldenStore golden_;
};

}  // namespace

size_t MigrationCount() { return Migrations().size(); }

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  OXIDE_ASSIGN_OR_RETURN(auto db, Db::Open(path, Migrations()));
  return std::unique_ptr<Store>(new SqliteStore(std::move(db)));
}

namespace internal {

// ---- devices ---------------------------------------------------------------------------

namespace {
// Every device read joins its inventory (one row at most).
constexpr const char* kDeviceSelect =
    "SELECT d.id, d.name, d.created_at, d.last_seen, d.reported_status, d.agent_version, "
    "d.current_model, d.current_version, d.current_sha256, d.bytes_served, d.bytes_full, "
    "d.platform_os, d.platform_arch, d.platform_cpus, d.last_result, d.last_result_error, "
    "i.os, i.os_version, i.arch, i.agent_version, i.free_disk_bytes, i.updated_at "
    "FROM devices d LEFT JOIN device_inventory i ON i.device_id=d.id ";

Result<DeviceRecord> ReadDevice(const Stmt& q) {
  DeviceRecord d;
  d.id = q.Text(0);
  d.name = q.Text(1);
  d.created_at = q.Int(2);
  d.last_seen = q.Int(3);
  d.reported_status = q.Text(4);
  d.agent_version = q.Text(5);
  d.current_model = q.Text(6);
  d.current_version = q.Text(7);
  d.current_sha256 = q.Text(8);
  d.bytes_served = q.U64(9);
  d.bytes_full = q.U64(10);
  d.platform_os = q.Text(11);
  d.platform_arch = q.Text(12);
  d.platform_cpus = static_cast<uint32_t>(q.Int(13));
  OXIDE_ASSIGN_OR_RETURN(d.last_result, ParseUpdateResult(q.Text(14)));
  d.last_result_error = q.Text(15);
  if (!q.IsNull(21)) {
    d.inventory.os = q.Text(16);
    d.inventory.os_version = q.Text(17);
    d.inventory.arch = q.Text(18);
    d.inventory.agent_version = q.Text(19);
    if (!q.IsNull(20)) d.inventory.free_disk_bytes = q.U64(20);
    d.inventory.updated_at = q.Int(21);
  }
  return d;
}

Status RequireChanged(Db& db, const std::string& what) {
  if (db.Changes() == 0) return NotFound(what + " not found");
  return Status::Ok();
}
}  // namespace

Status SqliteDeviceStore::WriteTags(const DeviceRecord& d) {
  {
    OXIDE_ASSIGN_OR_RETURN(Stmt del, db_.Prepare("DELETE FROM device_tags WHERE device_id=?"));
    OXIDE_RETURN_IF_ERROR(del.Bind(1, d.id).Run());
  }
  for (const auto& [k, v] : d.tags) {
    OXIDE_ASSIGN_OR_RETURN(
        Stmt ins, db_.Prepare("INSERT INTO device_tags(device_id,key,value) VALUES(?,?,?)"));
    OXIDE_RETURN_IF_ERROR(ins.Bind(1, d.id).Bind(2, k).Bind(3, v).Run());
  }
  return Status::Ok();
}

Status SqliteDeviceStore::ReadTags(DeviceRecord* d) {
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT key, value FROM device_tags WHERE "
                                             "device_id=? ORDER BY key"));
  q.Bind(1, d->id);
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::Ok();
    d->tags[q.Text(0)] = q.Text(1);
  }
}

Status SqliteDeviceStore::Create(const DeviceRecord& d) {
  Lock lock(db_.mu());
  OXIDE_RETURN_IF_ERROR(db_.Begin());
  Status st = [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("INSERT INTO devices(id, name, created_at) "
                                               "VALUES(?,?,?)"));
    Status ins = q.Bind(1, d.id).Bind(2, d.name).Bind(3, d.created_at).Run();
    if (ins.code() == ErrorCode::kAlreadyExists) {
      return AlreadyExists("device '" + d.id + "' already exists");
    }
    OXIDE_RETURN_IF_ERROR(ins);
    return WriteTags(d);
  }();
  OXIDE_RETURN_IF_ERROR(db_.End(st.ok()));
  return st;
}

Result<DeviceRecord> SqliteDeviceStore::Get(const std::string& id) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(DeviceRecord d, GetWithoutTags(id));
  OXIDE_RETURN_IF_ERROR(ReadTags(&d));
  return d;
}

Result<DeviceRecord> SqliteDeviceStore::GetWithoutTags(const std::string& id) {
  static const std::string kById = std::string(kDeviceSelect) + "WHERE d.id=?";
  Lock lock(db_.mu());
  DeviceRecord d;
  {
    OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare(kById));
    q.Bind(1, id);
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return NotFound("device '" + id + "' not found");
    OXIDE_ASSIGN_OR_RETURN(d, ReadDevice(q));
  }
  OXIDE_RETURN_IF_ERROR(ReadAttributes(&d));
  return d;
}

Result<std::vector<DeviceRecord>> SqliteDeviceStore::List() { return Query(DeviceQuery{}); }

Status SqliteDeviceStore::Update(const DeviceRecord& d) {
  Lock lock(db_.mu());
  OXIDE_RETURN_IF_ERROR(db_.Begin());
  Status st = [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(Stmt q,
                           db_.Prepare("UPDATE devices SET name=?, last_seen=?, reported_status=?, "
                                       "agent_version=?, current_model=?, current_version=?, "
                                       "current_sha256=?, platform_os=?, platform_arch=?, "
                                       "platform_cpus=?, last_result=?, last_result_error=? "
                                       "WHERE id=?"));
    OXIDE_RETURN_IF_ERROR(q.Bind(1, d.name)
                              .Bind(2, d.last_seen)
                              .Bind(3, d.reported_status)
                              .Bind(4, d.agent_version)
                              .Bind(5, d.current_model)
                              .Bind(6, d.current_version)
                              .Bind(7, d.current_sha256)
                              .Bind(8, d.platform_os)
                              .Bind(9, d.platform_arch)
                              .Bind(10, int64_t{d.platform_cpus})
                              .Bind(11, ToString(d.last_result))
                              .Bind(12, d.last_result_error)
                              .Bind(13, d.id)
                              .Run());
    OXIDE_RETURN_IF_ERROR(RequireChanged(db_, "device '" + d.id + "'"));
    // Heartbeats rewrite the row often: only touch tags when they differ.
    DeviceRecord stored;
    stored.id = d.id;
    OXIDE_RETURN_IF_ERROR(ReadTags(&stored));
    return stored.tags == d.tags ? Status::Ok() : WriteTags(d);
  }();
  OXIDE_RETURN_IF_ERROR(db_.End(st.ok()));
  return st;
}

Status SqliteDeviceStore::RecordHeartbeat(const DeviceRecord& d) {
  Lock lock(db_.mu());
  {
    // Usual case first: the device runs what it ran. SQLite rewrites the entry of every index
    // whose column is SET, changed or not, so leaving current_* out of the SET spares the
    // devices_current_model index page: one page less per heartbeat in the WAL. Each statement
    // is atomic on its own, so no savepoint of its own either.
    OXIDE_ASSIGN_OR_RETURN(
        Stmt q, db_.Prepare("UPDATE devices SET last_seen=?, reported_status=?, agent_version=?, "
                            "platform_os=?, platform_arch=?, platform_cpus=?, last_result=?, "
                            "last_result_error=? WHERE id=? AND current_model=? AND "
                            "current_version=? AND current_sha256=?"));
    OXIDE_RETURN_IF_ERROR(q.Bind(1, d.last_seen)
                              .Bind(2, d.reported_status)
                              .Bind(3, d.agent_version)
                              .Bind(4, d.platform_os)
                              .Bind(5, d.platform_arch)
                              .Bind(6, int64_t{d.platform_cpus})
                              .Bind(7, ToString(d.last_result))
                              .Bind(8, d.last_result_error)
                              .Bind(9, d.id)
                              .Bind(10, d.current_model)
                              .Bind(11, d.current_version)
                              .Bind(12, d.current_sha256)
                              .Run());
    if (db_.Changes() > 0) return Status::Ok();
  }
  // Another model or version (or an unknown device: kNotFound below).
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("UPDATE devices SET last_seen=?, reported_status=?, "
                                             "agent_version=?, current_model=?, "
                                             "current_version=?, current_sha256=?, "
                                             "platform_os=?, platform_arch=?, platform_cpus=?, "
                                             "last_result=?, last_result_error=? WHERE id=?"));
  OXIDE_RETURN_IF_ERROR(q.Bind(1, d.last_seen)
                            .Bind(2, d.reported_status)
                            .Bind(3, d.agent_version)
                            .Bind(4, d.current_model)
                            .Bind(5, d.current_version)
                            .Bind(6, d.current_sha256)
                            .Bind(7, d.platform_os)
                            .Bind(8, d.platform_arch)
                            .Bind(9, int64_t{d.platform_cpus})
                            .Bind(10, ToString(d.last_result))
                            .Bind(11, d.last_result_error)
                            .Bind(12, d.id)
                            .Run());
  return RequireChanged(db_, "device '" + d.id + "'");
}

Status SqliteDeviceStore::Delete(const std::string& id) {
  Lock lock(db_.mu());
  OXIDE_RETURN_IF_ERROR(db_.Begin());
  Status st = [&]() -> Status {
    {
      OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("DELETE FROM devices WHERE id=?"));
      OXIDE_RETURN_IF_ERROR(q.Bind(1, id).Run());
      OXIDE_RETURN_IF_ERROR(RequireChanged(db_, "device '" + id + "'"));
    }
    for (const char* sql : {"DELETE FROM device_tags WHERE device_id=?",
                            "DELETE FROM fleet_devices WHERE device_id=?",
                            "DELETE FROM assignments WHERE device_id=?",
                            "DELETE FROM refusal_clearances WHERE device_id=?",
                            "DELETE FROM device_auth WHERE device_id=?",
                            "DELETE FROM device_inventory WHERE device_id=?",
                            "DELETE FROM device_inventory_attributes WHERE device_id=?"}) {
      OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare(sql));
      OXIDE_RETURN_IF_ERROR(q.Bind(1, id).Run());
    }
    return Status::Ok();
  }();
  OXIDE_RETURN_IF_ERROR(db_.End(st.ok()));
  return st;
}

Status SqliteDeviceStore::AddBytes(const std::string& id, uint64_t served, uint64_t full) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("UPDATE devices SET bytes_served=bytes_served+?, "
                                             "bytes_full=bytes_full+? WHERE id=?"));
  OXIDE_RETURN_IF_ERROR(q.BindU64(1, served).BindU64(2, full).Bind(3, id).Run());
  return RequireChanged(db_, "device '" + id + "'");
}

Result<uint64_t> SqliteDeviceStore::CountSeenSince(TimeMs since) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT COUNT(*) FROM devices WHERE last_seen>0 "
                                             "AND last_seen>=?"));
  q.Bind(1, since);
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.U64(0) : 0;
}

Result<std::vector<DeviceRecord>> SqliteDeviceStore::ReadDeviceRows(Stmt& q) {
  std::vector<DeviceRecord> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    OXIDE_ASSIGN_OR_RETURN(auto d, ReadDevice(q));
    out.push_back(std::move(d));
  }
  return out;
}

Status SqliteDeviceStore::ReadDetails(std::vector<DeviceRecord>* devices) {
  for (auto& d : *devices) {
    OXIDE_RETURN_IF_ERROR(ReadTags(&d));
    OXIDE_RETURN_IF_ERROR(ReadAttributes(&d));
  }
  return Status::Ok();
}

Result<std::vector<DeviceRecord>> SqliteDeviceStore::ListSeenBetween(TimeMs from,
                                                                     const std::string& after_id,
                                                                     TimeMs to, size_t limit) {
  Lock lock(db_.mu());
  std::vector<DeviceRecord> out;
  {
    // The range on last_seen alone keeps it on devices_last_seen; ties sort by id.
    OXIDE_ASSIGN_OR_RETURN(
        Stmt q, db_.Prepare(std::string(kDeviceSelect) +
                            "WHERE d.last_seen>=?1 AND d.last_seen<?3 AND "
                            "(d.last_seen>?1 OR d.id>?2) ORDER BY d.last_seen, d.id LIMIT ?4"));
    q.Bind(1, from);
    q.Bind(2, after_id);
    q.Bind(3, to);
    q.Bind(4, static_cast<int64_t>(limit));
    OXIDE_ASSIGN_OR_RETURN(out, ReadDeviceRows(q));
  }
  OXIDE_RETURN_IF_ERROR(ReadDetails(&out));
  return out;
}

Result<std::vector<std::string>> SqliteDeviceStore::CurrentShasOfModel(
    const std::string& model_id) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT DISTINCT current_sha256 FROM devices WHERE "
                                             "current_model=? AND current_sha256<>'' "
                                             "ORDER BY current_sha256"));
  q.Bind(1, model_id);
  std::vector<std::string> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(q.Text(0));
  }
}

Status SqliteDeviceStore::ReadAttributes(DeviceRecord* d) {
  if (d->inventory.updated_at == 0) return Status::Ok();
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT key, value FROM device_inventory_attributes "
                                             "WHERE device_id=? ORDER BY key"));
  q.Bind(1, d->id);
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::Ok();
    d->inventory.attributes[q.Text(0)] = q.Text(1);
  }
}

Status SqliteDeviceStore::PutInventory(const std::string& id, const DeviceInventory& inv) {
  Lock lock(db_.mu());
  OXIDE_RETURN_IF_ERROR(db_.Begin());
  Status st = [&]() -> Status {
    {
      OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT 1 FROM devices WHERE id=?"));
      q.Bind(1, id);
      OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return NotFound("device '" + id + "' not found");
    }
    OXIDE_ASSIGN_OR_RETURN(
        Stmt q, db_.Prepare("INSERT OR REPLACE INTO device_inventory(device_id, os, os_version, "
                            "arch, agent_version, free_disk_bytes, updated_at) "
                            "VALUES(?,?,?,?,?,?,?)"));
    q.Bind(1, id).Bind(2, inv.os).Bind(3, inv.os_version).Bind(4, inv.arch);
    q.Bind(5, inv.agent_version).Bind(7, inv.updated_at);
    if (inv.free_disk_bytes) {
      q.BindU64(6, *inv.free_disk_bytes);
    } else {
      q.BindNull(6);
    }
    OXIDE_RETURN_IF_ERROR(q.Run());
    {
      OXIDE_ASSIGN_OR_RETURN(
          Stmt del, db_.Prepare("DELETE FROM device_inventory_attributes WHERE device_id=?"));
      OXIDE_RETURN_IF_ERROR(del.Bind(1, id).Run());
    }
    for (const auto& [k, v] : inv.attributes) {
      OXIDE_ASSIGN_OR_RETURN(Stmt ins, db_.Prepare("INSERT INTO device_inventory_attributes("
                                                   "device_id, key, value) VALUES(?,?,?)"));
      OXIDE_RETURN_IF_ERROR(ins.Bind(1, id).Bind(2, k).Bind(3, v).Run());
    }
    return Status::Ok();
  }();
  OXIDE_RETURN_IF_ERROR(db_.End(st.ok()));
  return st;
}

Result<std::vector<DeviceRecord>> SqliteDeviceStore::Query(const DeviceQuery& dq) {
  Lock lock(db_.mu());
  // Built from fixed fragments only; every value is bound.
  std::string sql = std::string(kDeviceSelect) + "WHERE d.id > ?1";
  if (!dq.fleet_id.empty()) {
    sql += " AND d.id IN (SELECT device_id FROM fleet_devices WHERE fleet_id=?2)";
  }
  if (!dq.text.empty()) {
    sql += " AND (instr(lower(d.id), lower(?3)) > 0 OR instr(lower(d.name), lower(?3)) > 0)";
  }
  switch (dq.seen) {
    case DeviceQuery::Seen::kAny:
      break;
    case DeviceQuery::Seen::kNever:
      sql += " AND d.last_seen = 0";
      break;
    case DeviceQuery::Seen::kAtOrAfter:
      sql += " AND d.last_seen > 0 AND d.last_seen >= ?4";
      break;
    case DeviceQuery::Seen::kBefore:
      sql += " AND d.last_seen > 0 AND d.last_seen < ?4";
      break;
  }
  constexpr const char* kAuth = " EXISTS (SELECT 1 FROM device_auth a WHERE a.device_id=d.id AND ";
  switch (dq.auth) {
    case DeviceQuery::Auth::kAny:
      break;
    case DeviceQuery::Auth::kUnenrolled:  // no credential yet (no record, or pending without one)
      sql += std::string(" AND NOT") + kAuth + "(a.state<>'pending' OR a.secret_sha256<>''))";
      break;
    case DeviceQuery::Auth::kPending:
      sql += std::string(" AND") + kAuth + "a.state='pending' AND a.secret_sha256<>'')";
      break;
    case DeviceQuery::Auth::kAccepted:
      sql += std::string(" AND") + kAuth + "a.state='accepted')";
      break;
    case DeviceQuery::Auth::kRejected:
      sql += std::string(" AND") + kAuth + "a.state='rejected')";
      break;
  }
  for (size_t i = 0; i < dq.tags.size(); ++i) {
    const std::string k = std::to_string(6 + 2 * i), v = std::to_string(7 + 2 * i);
    sql += " AND EXISTS (SELECT 1 FROM device_tags t WHERE t.device_id=d.id AND t.key=?" + k +
           " AND t.value=?" + v + ")";
  }
  sql += " ORDER BY d.id LIMIT ?5";
  std::vector<DeviceRecord> out;
  {
    OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare(sql));
    q.Bind(1, dq.after);
    if (!dq.fleet_id.empty()) q.Bind(2, dq.fleet_id);
    if (!dq.text.empty()) q.Bind(3, dq.text);
    if (dq.seen == DeviceQuery::Seen::kAtOrAfter || dq.seen == DeviceQuery::Seen::kBefore) {
      q.Bind(4, dq.seen_at);
    }
    q.Bind(5, dq.limit == 0 ? int64_t{-1} : static_cast<int64_t>(dq.limit));
    for (size_t i = 0; i < dq.tags.size(); ++i) {
      q.Bind(static_cast<int>(6 + 2 * i), dq.tags[i].first);
      q.Bind(static_cast<int>(7 + 2 * i), dq.tags[i].second);
    }
    OXIDE_ASSIGN_OR_RETURN(out, ReadDeviceRows(q));
  }
  OXIDE_RETURN_IF_ERROR(ReadDetails(&out));
  return out;
}

}  // namespace internal
}  // namespace oxide::store::sqlite
