#include "store/postgres/pg_store.hpp"

#include <map>

#include "store/postgres/pg_store_internal.hpp"

namespace oxide::store::postgres {
namespace {

// Append-only: a released migration is never edited; a schema change is a new entry. Migration 1
// is the SQLite schema as of its migration 9 (leases, event log, database id). Columns that are
// ordered or range-compared are COLLATE "C" so that pages and lists sort by bytes, as in SQLite,
// whatever the database's locale. Sequences replace SQLite's MAX(seq)+1 and rowid orders, so
// that concurrent writers never compute the same number.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE devices (
  id TEXT COLLATE "C" PRIMARY KEY, name TEXT NOT NULL, created_at BIGINT NOT NULL,
  last_seen BIGINT NOT NULL DEFAULT 0, reported_status TEXT NOT NULL DEFAULT '',
  agent_version TEXT NOT NULL DEFAULT '', current_model TEXT NOT NULL DEFAULT '',
  current_version TEXT NOT NULL DEFAULT '', current_sha256 TEXT COLLATE "C" NOT NULL DEFAULT '',
  bytes_served BIGINT NOT NULL DEFAULT 0, bytes_full BIGINT NOT NULL DEFAULT 0,
  platform_os TEXT NOT NULL DEFAULT '', platform_arch TEXT NOT NULL DEFAULT '',
  platform_cpus BIGINT NOT NULL DEFAULT 0, last_result TEXT NOT NULL DEFAULT 'none',
  last_result_error TEXT NOT NULL DEFAULT '');
CREATE INDEX devices_last_seen ON devices(last_seen, id);
CREATE INDEX devices_current_model ON devices(current_model);
CREATE TABLE device_tags (device_id TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL,
  value TEXT NOT NULL, PRIMARY KEY (device_id, key));
CREATE INDEX device_tags_kv ON device_tags(key, value);
CREATE TABLE fleets (id TEXT COLLATE "C" PRIMARY KEY, name TEXT NOT NULL,
  created_at BIGINT NOT NULL, description TEXT NOT NULL DEFAULT '');
CREATE TABLE fleet_tags (fleet_id TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL,
  value TEXT NOT NULL, PRIMARY KEY (fleet_id, key));
CREATE TABLE fleet_devices (fleet_id TEXT NOT NULL, device_id TEXT NOT NULL,
  seq BIGSERIAL NOT NULL, PRIMARY KEY (fleet_id, device_id));
CREATE INDEX fleet_devices_device ON fleet_devices(device_id);
CREATE SEQUENCE model_versions_seq;
CREATE TABLE model_versions (model_id TEXT COLLATE "C" NOT NULL, version TEXT NOT NULL,
  sha256 TEXT COLLATE "C" NOT NULL, size_bytes BIGINT NOT NULL, format TEXT NOT NULL,
  uploaded_at BIGINT NOT NULL, seq BIGINT NOT NULL DEFAULT nextval('model_versions_seq'),
  PRIMARY KEY (model_id, version));
CREATE INDEX model_versions_sha ON model_versions(sha256);
CREATE TABLE tensor_indexes (sha256 TEXT PRIMARY KEY, format TEXT NOT NULL,
  tensor_count BIGINT NOT NULL, data BYTEA NOT NULL);
CREATE TABLE patches (base_sha256 TEXT NOT NULL, target_sha256 TEXT NOT NULL,
  state TEXT NOT NULL, patch_sha256 TEXT NOT NULL DEFAULT '',
  patch_size BIGINT NOT NULL DEFAULT 0, strategy TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
  seq BIGSERIAL NOT NULL, attempts BIGINT NOT NULL DEFAULT 0,
  not_before BIGINT NOT NULL DEFAULT 0, lease_owner TEXT NOT NULL DEFAULT '',
  lease_until BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (base_sha256, target_sha256));
CREATE INDEX patches_state ON patches(state, attempts, seq);
CREATE INDEX patches_patch_sha ON patches(patch_sha256);
CREATE TABLE assignments (device_id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL,
  model_id TEXT NOT NULL, version TEXT NOT NULL, sha256 TEXT NOT NULL,
  size_bytes BIGINT NOT NULL);
CREATE TABLE campaigns (id TEXT PRIMARY KEY, seq BIGSERIAL NOT NULL UNIQUE,
  model_id TEXT NOT NULL, version TEXT NOT NULL, target_sha256 TEXT NOT NULL,
  target_size BIGINT NOT NULL, fleet_id TEXT NOT NULL, strategy TEXT NOT NULL,
  canary_percent BIGINT NOT NULL, batch_size BIGINT NOT NULL,
  failure_threshold_count BIGINT NOT NULL, failure_threshold_percent BIGINT NOT NULL,
  state TEXT COLLATE "C" NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
  bytes_served BIGINT NOT NULL DEFAULT 0, bytes_full BIGINT NOT NULL DEFAULT 0,
  has_target BIGINT NOT NULL DEFAULT 0, require_approval BIGINT NOT NULL DEFAULT 0,
  approved_at BIGINT NOT NULL DEFAULT 0);
CREATE INDEX campaigns_state ON campaigns(state, seq);
CREATE TABLE campaign_targets (campaign_id TEXT NOT NULL, kind TEXT COLLATE "C" NOT NULL,
  key TEXT COLLATE "C" NOT NULL, value TEXT NOT NULL, PRIMARY KEY (campaign_id, kind, key));
CREATE TABLE campaign_devices (campaign_id TEXT NOT NULL, device_id TEXT NOT NULL,
  ordinal BIGINT NOT NULL, state TEXT NOT NULL, bytes_done BIGINT NOT NULL DEFAULT 0,
  bytes_total BIGINT NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '',
  bytes_served BIGINT NOT NULL DEFAULT 0, bytes_full BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL DEFAULT 0, prev_campaign_id TEXT, prev_model_id TEXT,
  prev_version TEXT, prev_sha256 TEXT, prev_size BIGINT,
  PRIMARY KEY (campaign_id, device_id));
CREATE INDEX campaign_devices_device ON campaign_devices(device_id);
CREATE TABLE attempts (seq BIGSERIAL PRIMARY KEY, device_id TEXT NOT NULL,
  report_id TEXT NOT NULL DEFAULT '', campaign_id TEXT NOT NULL DEFAULT '',
  model_id TEXT NOT NULL, version TEXT NOT NULL, outcome TEXT NOT NULL, stage TEXT NOT NULL,
  local BIGINT NOT NULL DEFAULT 0, exit_status BIGINT, error TEXT NOT NULL DEFAULT '',
  output TEXT NOT NULL DEFAULT '', at BIGINT NOT NULL, device_at BIGINT NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX attempts_report ON attempts(device_id, report_id) WHERE report_id <> '';
CREATE INDEX attempts_device ON attempts(device_id, seq);
CREATE INDEX attempts_campaign ON attempts(campaign_id, seq);
CREATE TABLE refusal_clearances (id BIGSERIAL PRIMARY KEY, device_id TEXT NOT NULL,
  model_id TEXT NOT NULL, version TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE INDEX refusal_clearances_device ON refusal_clearances(device_id, id);
CREATE UNIQUE INDEX refusal_clearances_version ON refusal_clearances(device_id, model_id, version);
CREATE TABLE operator_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL,
  revoked_at BIGINT NOT NULL DEFAULT 0, last_used BIGINT NOT NULL DEFAULT 0,
  ord BIGSERIAL NOT NULL);
CREATE TABLE enrollment_tokens (id TEXT PRIMARY KEY, fleet_id TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL,
  revoked_at BIGINT NOT NULL DEFAULT 0, ord BIGSERIAL NOT NULL);
CREATE INDEX enrollment_tokens_fleet ON enrollment_tokens(fleet_id, ord);
CREATE TABLE device_auth (device_id TEXT PRIMARY KEY, state TEXT NOT NULL,
  secret_sha256 TEXT NOT NULL DEFAULT '', updated_at BIGINT NOT NULL);
CREATE TABLE audit_log (id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL,
  actor_id TEXT NOT NULL, actor_name TEXT NOT NULL, action TEXT NOT NULL,
  target TEXT NOT NULL, remote_address TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE model_releases (model_id TEXT NOT NULL, version TEXT NOT NULL,
  envelope TEXT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (model_id, version));
CREATE TABLE release_key_sets (version BIGINT PRIMARY KEY, envelope TEXT NOT NULL,
  created_at BIGINT NOT NULL);
CREATE TABLE device_inventory (device_id TEXT PRIMARY KEY, os TEXT NOT NULL,
  os_version TEXT NOT NULL, arch TEXT NOT NULL, agent_version TEXT NOT NULL,
  free_disk_bytes BIGINT, updated_at BIGINT NOT NULL);
CREATE TABLE device_inventory_attributes (device_id TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL,
  value TEXT NOT NULL, PRIMARY KEY (device_id, key));
CREATE TABLE bandwidth_hourly (hour BIGINT PRIMARY KEY, bytes_served BIGINT NOT NULL,
  bytes_full BIGINT NOT NULL);
CREATE TABLE event_log (seq BIGSERIAL PRIMARY KEY, type TEXT NOT NULL, data TEXT NOT NULL,
  at BIGINT NOT NULL);
CREATE TABLE database_info (id TEXT NOT NULL);
INSERT INTO database_info(id) VALUES (replace(gen_random_uuid()::text, '-', ''));
)sql",
      // 2 (model signatures, issue #11; SQLite migration 11): each version's graph inputs and
      // outputs, how they differ from the version before it, and the campaign override.
      R"sql(
ALTER TABLE model_versions ADD COLUMN signature TEXT NOT NULL DEFAULT '';
ALTER TABLE model_versions ADD COLUMN signature_change TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN allow_signature_change BIGINT NOT NULL DEFAULT 0;
)sql",
      // 3 (golden checks, issue #11; SQLite migration 12): one golden file per model
      // version, in a table of its own so that re-uploading a version keeps it.
      R"sql(
CREATE TABLE model_golden (model_id TEXT NOT NULL, version TEXT NOT NULL,
  sha256 TEXT NOT NULL, size_bytes BIGINT NOT NULL, tolerance TEXT NOT NULL,
  latency_budget_ms TEXT NOT NULL DEFAULT '', uploaded_at BIGINT NOT NULL,
  PRIMARY KEY (model_id, version));
)sql",
  };
  return kMigrations;
}

class PostgresStore final : public Store {
 public:
  explicit PostgresStore(std::unique_ptr<Db> db)
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

  // Every InTransaction of every replica takes the same advisory lock: read-modify-write logic
  // in the services keeps the single-writer guarantee it has on SQLite.
  Status InTransaction(const std::function<Status()>& fn) override {
    return db_->InTransaction(kTransactionLockKey, fn);
  }
  Status InSavepoint(const std::function<Status()>& fn) override { return db_->InSavepoint(fn); }

  Db& db() { return *db_; }

 private:
  std::unique_ptr<Db> db_;
  internal::PgDeviceStore devices_;
  internal::PgFleetStore fleets_;
  internal::PgModelStore models_;
  internal::PgPatchStore patches_;
  internal::PgAssignmentStore assignments_;
  internal::PgCampaignStore campaigns_;
  internal::PgAttemptStore attempts_;
  internal::PgClearanceStore clearances_;
  internal::PgReleaseStore releases_;
  internal::PgAuthStore auth_;
  internal::PgAuditStore audit_;
  internal::PgStatsStore stats_;
  internal::PgEventLogStore event_log_;
  internal::PgGoldenStore golden_;
};

// Removes `pool_size=N` from the URL's parameters (libpq would refuse it).
Result<std::string> TakePoolSize(const std::string& url, PoolOptions* options) {
  size_t q = url.find('?');
  if (q == std::string::npos) return url;
  std::string kept;
  size_t pos = q + 1;
  while (pos <= url.size()) {
    size_t end = url.find('&', pos);
    if (end == std::string::npos) end = url.size();
    std::string param = url.substr(pos, end - pos);
    if (param.rfind("pool_size=", 0) == 0) {
      const std::string v = param.substr(10);
      char* stop = nullptr;
      long n = std::strtol(v.c_str(), &stop, 10);
      if (v.empty() || *stop != '\0' || n < 1 || n > 1000) {
        return InvalidArgument("pool_size must be 1..1000, got '" + v + "'");
      }
      options->max_connections = static_cast<size_t>(n);
    } else if (!param.empty()) {
      kept += (kept.empty() ? "" : "&") + param;
    }
    pos = end + 1;
  }
  return url.substr(0, q) + (kept.empty() ? "" : "?" + kept);
}

}  // namespace

size_t MigrationCount() { return Migrations().size(); }

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url, PoolOptions options) {
  OXIDE_ASSIGN_OR_RETURN(std::string conninfo, TakePoolSize(url, &options));
  OXIDE_ASSIGN_OR_RETURN(auto db, Db::Open(conninfo, options, Migrations()));
  return std::unique_ptr<Store>(new PostgresStore(std::move(db)));
}

int TransactionBackendPid(Store& store) {
  auto* pg = dynamic_cast<PostgresStore*>(&store);
  return pg == nullptr ? 0 : pg->db().BackendPid();
}

namespace internal {

// ---- devices ---------------------------------------------------------------------------

namespace {

// Every device read joins its inventory (one row at most) and carries its tags and inventory
// attributes as "hex(key):hex(value),..." (one round trip per read, whatever the bytes).
constexpr const char* kDeviceSelect =
    "SELECT d.id, d.name, d.created_at, d.last_seen, d.reported_status, d.agent_version, "
    "d.current_model, d.current_version, d.current_sha256, d.bytes_served, d.bytes_full, "
    "d.platform_os, d.platform_arch, d.platform_cpus, d.last_result, d.last_result_error, "
    "i.os, i.os_version, i.arch, i.agent_version, i.free_disk_bytes, i.updated_at, "
    "(SELECT string_agg(encode(convert_to(t.key, 'UTF8'), 'hex') || ':' || "
    "encode(convert_to(t.value, 'UTF8'), 'hex'), ',') FROM device_tags t "
    "WHERE t.device_id=d.id), "
    "(SELECT string_agg(encode(convert_to(a.key, 'UTF8'), 'hex') || ':' || "
    "encode(convert_to(a.value, 'UTF8'), 'hex'), ',') FROM device_inventory_attributes a "
    "WHERE a.device_id=d.id) "
    "FROM devices d LEFT JOIN device_inventory i ON i.device_id=d.id ";

std::string HexDecode(std::string_view hex) {
  auto nibble = [](char h) {
    return static_cast<unsigned>(h >= 'a' ? h - 'a' + 10 : h >= 'A' ? h - 'A' + 10 : h - '0');
  };
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<char>((nibble(hex[2 * i]) << 4) | nibble(hex[2 * i + 1]));
  }
  return out;
}

// "hex(k):hex(v),..." -> map.
std::map<std::string, std::string> DecodePairs(std::string_view s) {
  std::map<std::string, std::string> out;
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view pair = s.substr(0, comma);
    size_t colon = pair.find(':');
    if (colon != std::string_view::npos) {
      out[HexDecode(pair.substr(0, colon))] = HexDecode(pair.substr(colon + 1));
    }
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

Result<DeviceRecord> ReadDevice(const Rows& q, size_t r) {
  DeviceRecord d;
  d.id = q.Text(r, 0);
  d.name = q.Text(r, 1);
  d.created_at = q.Int(r, 2);
  d.last_seen = q.Int(r, 3);
  d.reported_status = q.Text(r, 4);
  d.agent_version = q.Text(r, 5);
  d.current_model = q.Text(r, 6);
  d.current_version = q.Text(r, 7);
  d.current_sha256 = q.Text(r, 8);
  d.bytes_served = q.U64(r, 9);
  d.bytes_full = q.U64(r, 10);
  d.platform_os = q.Text(r, 11);
  d.platform_arch = q.Text(r, 12);
  d.platform_cpus = static_cast<uint32_t>(q.Int(r, 13));
  OXIDE_ASSIGN_OR_RETURN(d.last_result, ParseUpdateResult(q.Text(r, 14)));
  d.last_result_error = q.Text(r, 15);
  if (!q.IsNull(r, 21)) {
    d.inventory.os = q.Text(r, 16);
    d.inventory.os_version = q.Text(r, 17);
    d.inventory.arch = q.Text(r, 18);
    d.inventory.agent_version = q.Text(r, 19);
    if (!q.IsNull(r, 20)) d.inventory.free_disk_bytes = q.U64(r, 20);
    d.inventory.updated_at = q.Int(r, 21);
    d.inventory.attributes = DecodePairs(q.Text(r, 23));
  }
  d.tags = DecodePairs(q.Text(r, 22));
  return d;
}

// ASCII-only lower case, like SQLite's lower() (PostgreSQL's follows the locale).
constexpr const char* kAsciiLower = "'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'";

}  // namespace

Status PgDeviceStore::WriteTags(const DeviceRecord& d) {
  OXIDE_RETURN_IF_ERROR(
      db_.Exec("DELETE FROM device_tags WHERE device_id=$1", Params().Add(d.id)).status());
  for (const auto& [k, v] : d.tags) {
    OXIDE_RETURN_IF_ERROR(db_.Exec("INSERT INTO device_tags(device_id,key,value) VALUES($1,$2,$3)",
                                   Params().Add(d.id).Add(k).Add(v))
                              .status());
  }
  return Status::Ok();
}

Result<std::vector<DeviceRecord>> PgDeviceStore::ReadDevices(const Rows& rows) {
  std::vector<DeviceRecord> out;
  out.reserve(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    OXIDE_ASSIGN_OR_RETURN(auto d, ReadDevice(rows, r));
    out.push_back(std::move(d));
  }
  return out;
}

Status PgDeviceStore::Create(const DeviceRecord& d) {
  return db_.InTransaction(0, [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(Rows ins, db_.Exec("INSERT INTO devices(id, name, created_at) "
                                              "VALUES($1,$2,$3) ON CONFLICT DO NOTHING",
                                              Params().Add(d.id).Add(d.name).Add(d.created_at)));
    if (ins.affected() == 0) return AlreadyExists("device '" + d.id + "' already exists");
    return WriteTags(d);
  });
}

Result<DeviceRecord> PgDeviceStore::Get(const std::string& id) {
  OXIDE_ASSIGN_OR_RETURN(Rows q,
                         db_.Exec(std::string(kDeviceSelect) + "WHERE d.id=$1", Params().Add(id)));
  if (q.empty()) return NotFound("device '" + id + "' not found");
  OXIDE_ASSIGN_OR_RETURN(auto list, ReadDevices(q));
  return std::move(list.front());
}

Result<std::vector<DeviceRecord>> PgDeviceStore::List() { return Query(DeviceQuery{}); }

namespace {

// A text[] literal ({"a","b\"c"}) of `items`, passed as one parameter.
std::string TextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    out += i == 0 ? "\"" : ",\"";
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

}  // namespace

Status PgDeviceStore::RecordHeartbeat(const DeviceRecord& d) {
  Params p;
  p.Add(d.last_seen).Add(d.reported_status).Add(d.agent_version).Add(d.current_model);
  p.Add(d.current_version).Add(d.current_sha256).Add(d.platform_os).Add(d.platform_arch);
  p.Add(int64_t{d.platform_cpus}).Add(ToString(d.last_result)).Add(d.last_result_error);
  p.Add(d.id);
  OXIDE_ASSIGN_OR_RETURN(
      Rows up, db_.Exec("UPDATE devices SET last_seen=$1, reported_status=$2, agent_version=$3, "
                        "current_model=$4, current_version=$5, current_sha256=$6, "
                        "platform_os=$7, platform_arch=$8, platform_cpus=$9, last_result=$10, "
                        "last_result_error=$11 WHERE id=$12 RETURNING 1",
                        p));
  if (up.empty()) return NotFound("device '" + d.id + "' not found");
  return Status::Ok();
}

Status PgDeviceStore::Update(const DeviceRecord& d) {
  // Heartbeats rewrite the row often, with the same tags: one statement updates it and says
  // whether the stored tags already equal d.tags ($14 keys, $15 values, both in key order).
  // Only when they differ is the update repeated with the tags, in one transaction.
  std::vector<std::string> keys, values;
  for (const auto& [k, v] : d.tags) {
    keys.push_back(k);
    values.push_back(v);
  }
  Params p;
  p.Add(d.name).Add(d.last_seen).Add(d.reported_status).Add(d.agent_version);
  p.Add(d.current_model).Add(d.current_version).Add(d.current_sha256).Add(d.platform_os);
  p.Add(d.platform_arch).Add(int64_t{d.platform_cpus}).Add(ToString(d.last_result));
  p.Add(d.last_result_error).Add(d.id).Add(TextArray(keys)).Add(TextArray(values));
  const std::string sql =
      "UPDATE devices SET name=$1, last_seen=$2, reported_status=$3, agent_version=$4, "
      "current_model=$5, current_version=$6, current_sha256=$7, platform_os=$8, "
      "platform_arch=$9, platform_cpus=$10, last_result=$11, last_result_error=$12 "
      "WHERE id=$13 RETURNING (SELECT COALESCE(array_agg(t.key ORDER BY t.key), '{}') = "
      "$14::text[] AND COALESCE(array_agg(t.value ORDER BY t.key), '{}') = $15::text[] "
      "FROM device_tags t WHERE t.device_id=$13)";
  OXIDE_ASSIGN_OR_RETURN(Rows up, db_.Exec(sql, p));
  if (up.empty()) return NotFound("device '" + d.id + "' not found");
  if (up.Text(0, 0) == "t") return Status::Ok();
  return db_.InTransaction(0, [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(Rows again, db_.Exec(sql, p));
    if (again.empty()) return NotFound("device '" + d.id + "' not found");
    return WriteTags(d);
  });
}

Status PgDeviceStore::Delete(const std::string& id) {
  return db_.InTransaction(0, [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(Rows del, db_.Exec("DELETE FROM devices WHERE id=$1", Params().Add(id)));
    if (del.affected() == 0) return NotFound("device '" + id + "' not found");
    for (const char* sql : {"DELETE FROM device_tags WHERE device_id=$1",
                            "DELETE FROM fleet_devices WHERE device_id=$1",
                            "DELETE FROM assignments WHERE device_id=$1",
                            "DELETE FROM refusal_clearances WHERE device_id=$1",
                            "DELETE FROM device_auth WHERE device_id=$1",
                            "DELETE FROM device_inventory WHERE device_id=$1",
                            "DELETE FROM device_inventory_attributes WHERE device_id=$1"}) {
      OXIDE_RETURN_IF_ERROR(db_.Exec(sql, Params().Add(id)).status());
    }
    return Status::Ok();
  });
}

Status PgDeviceStore::AddBytes(const std::string& id, uint64_t served, uint64_t full) {
  OXIDE_ASSIGN_OR_RETURN(Rows up, db_.Exec("UPDATE devices SET bytes_served=bytes_served+$1, "
                                           "bytes_full=bytes_full+$2 WHERE id=$3",
                                           Params().AddU64(served).AddU64(full).Add(id)));
  if (up.affected() == 0) return NotFound("device '" + id + "' not found");
  return Status::Ok();
}

Result<uint64_t> PgDeviceStore::CountSeenSince(TimeMs since) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("SELECT COUNT(*) FROM devices WHERE last_seen>0 "
                                          "AND last_seen>=$1",
                                          Params().Add(since)));
  return q.U64(0, 0);
}

Result<std::vector<DeviceRecord>> PgDeviceStore::ListSeenBetween(TimeMs from,
                                                                 const std::string& after_id,
                                                                 TimeMs to, size_t limit) {
  OXIDE_ASSIGN_OR_RETURN(
      Rows q, db_.Exec(std::string(kDeviceSelect) +
                           "WHERE d.last_seen>=$1 AND d.last_seen<$3 AND "
                           "(d.last_seen>$1 OR d.id>$2) ORDER BY d.last_seen, d.id LIMIT $4",
                       Params().Add(from).Add(after_id).Add(to).AddLimit(limit)));
  return ReadDevices(q);
}

Result<std::vector<std::string>> PgDeviceStore::CurrentShasOfModel(const std::string& model_id) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("SELECT DISTINCT current_sha256 FROM devices WHERE "
                                          "current_model=$1 AND current_sha256<>'' "
                                          "ORDER BY current_sha256",
                                          Params().Add(model_id)));
  std::vector<std::string> out;
  for (size_t r = 0; r < q.size(); ++r) out.push_back(q.Text(r, 0));
  return out;
}

Status PgDeviceStore::PutInventory(const std::string& id, const DeviceInventory& inv) {
  return db_.InTransaction(0, [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(Rows dev,
                           db_.Exec("SELECT 1 FROM devices WHERE id=$1", Params().Add(id)));
    if (dev.empty()) return NotFound("device '" + id + "' not found");
    Params p;
    p.Add(id).Add(inv.os).Add(inv.os_version).Add(inv.arch).Add(inv.agent_version);
    if (inv.free_disk_bytes) {
      p.AddU64(*inv.free_disk_bytes);
    } else {
      p.AddNull();
    }
    p.Add(inv.updated_at);
    OXIDE_RETURN_IF_ERROR(
        db_.Exec("INSERT INTO device_inventory(device_id, os, os_version, arch, agent_version, "
                 "free_disk_bytes, updated_at) VALUES($1,$2,$3,$4,$5,$6::bigint,$7) "
                 "ON CONFLICT (device_id) DO UPDATE SET os=excluded.os, "
                 "os_version=excluded.os_version, arch=excluded.arch, "
                 "agent_version=excluded.agent_version, free_disk_bytes=excluded.free_disk_bytes, "
                 "updated_at=excluded.updated_at",
                 p)
            .status());
    OXIDE_RETURN_IF_ERROR(
        db_.Exec("DELETE FROM device_inventory_attributes WHERE device_id=$1", Params().Add(id))
            .status());
    for (const auto& [k, v] : inv.attributes) {
      OXIDE_RETURN_IF_ERROR(db_.Exec("INSERT INTO device_inventory_attributes(device_id, key, "
                                     "value) VALUES($1,$2,$3)",
                                     Params().Add(id).Add(k).Add(v))
                                .status());
    }
    return Status::Ok();
  });
}

Result<std::vector<DeviceRecord>> PgDeviceStore::Query(const DeviceQuery& dq) {
  // Built from fixed fragments only; every value is a parameter, numbered as it is added.
  Params p;
  std::string sql = std::string(kDeviceSelect) + "WHERE d.id > " + p.Add(dq.after).Last();
  if (!dq.fleet_id.empty()) {
    sql += " AND d.id IN (SELECT device_id FROM fleet_devices WHERE fleet_id=" +
           p.Add(dq.fleet_id).Last() + ")";
  }
  if (!dq.text.empty()) {
    const std::string t = p.Add(dq.text).Last();
    const std::string needle = "translate(" + t + "::text, " + kAsciiLower + ")";
    sql += std::string(" AND (strpos(translate(d.id, ") + kAsciiLower + "), " + needle +
           ") > 0 OR strpos(translate(d.name, " + kAsciiLower + "), " + needle + ") > 0)";
  }
  switch (dq.seen) {
    case DeviceQuery::Seen::kAny:
      break;
    case DeviceQuery::Seen::kNever:
      sql += " AND d.last_seen = 0";
      break;
    case DeviceQuery::Seen::kAtOrAfter:
      sql += " AND d.last_seen > 0 AND d.last_seen >= " + p.Add(dq.seen_at).Last();
      break;
    case DeviceQuery::Seen::kBefore:
      sql += " AND d.last_seen > 0 AND d.last_seen < " + p.Add(dq.seen_at).Last();
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
  for (const auto& [key, value] : dq.tags) {
    const std::string k = p.Add(key).Last();
    sql += " AND EXISTS (SELECT 1 FROM device_tags t WHERE t.device_id=d.id AND t.key=" + k +
           " AND t.value=" + p.Add(value).Last() + ")";
  }
  sql += " ORDER BY d.id";
  if (dq.limit != 0) sql += " LIMIT " + p.AddLimit(dq.limit).Last();
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec(sql, p));
  return ReadDevices(q);
}

}  // namespace internal
}  // namespace oxide::store::postgres
