// Patches, assignments and campaigns over SQLite.
#include "store/sqlite/sqlite_store_internal.hpp"

namespace oxide::store::sqlite::internal {
namespace {

constexpr const char* kPatchCols =
    "base_sha256, target_sha256, state, patch_sha256, patch_size, strategy, error, created_at, "
    "updated_at, attempts, not_before, lease_owner, lease_until";

Result<PatchRecord> ReadPatch(const Stmt& q) {
  PatchRecord p;
  p.base_sha256 = q.Text(0);
  p.target_sha256 = q.Text(1);
  OXIDE_ASSIGN_OR_RETURN(p.state, ParsePatchState(q.Text(2)));
  p.patch_sha256 = q.Text(3);
  p.patch_size = q.U64(4);
  p.strategy = q.Text(5);
  p.error = q.Text(6);
  p.created_at = q.Int(7);
  p.updated_at = q.Int(8);
  p.attempts = static_cast<uint32_t>(q.Int(9));
  p.not_before = q.Int(10);
  p.lease_owner = q.Text(11);
  p.lease_until = q.Int(12);
  return p;
}

// Every row of `q`, in order.
Result<std::vector<PatchRecord>> ReadPatches(Stmt& q) {
  std::vector<PatchRecord> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    OXIDE_ASSIGN_OR_RETURN(auto p, ReadPatch(q));
    out.push_back(std::move(p));
  }
}

constexpr const char* kCampaignCols =
    "id, seq, model_id, version, target_sha256, target_size, fleet_id, strategy, canary_percent, "
    "batch_size, failure_threshold_count, failure_threshold_percent, state, created_at, "
    "updated_at, bytes_served, bytes_full, has_target, require_approval, approved_at, "
    "allow_signature_change";

Result<CampaignRecord> ReadCampaign(const Stmt& q) {
  CampaignRecord c;
  c.id = q.Text(0);
  c.seq = q.Int(1);
  c.model_id = q.Text(2);
  c.version = q.Text(3);
  c.target_sha256 = q.Text(4);
  c.target_size = q.U64(5);
  c.fleet_id = q.Text(6);
  OXIDE_ASSIGN_OR_RETURN(c.strategy, ParseCampaignStrategy(q.Text(7)));
  c.canary_percent = static_cast<uint32_t>(q.Int(8));
  c.batch_size = static_cast<uint32_t>(q.Int(9));
  c.failure_threshold_count = static_cast<uint32_t>(q.Int(10));
  c.failure_threshold_percent = static_cast<uint32_t>(q.Int(11));
  OXIDE_ASSIGN_OR_RETURN(c.state, ParseCampaignState(q.Text(12)));
  c.created_at = q.Int(13);
  c.updated_at = q.Int(14);
  c.bytes_served = q.U64(15);
  c.bytes_full = q.U64(16);
  if (q.Int(17) != 0) c.target.emplace();  // filled by ReadTarget
  c.require_approval = q.Int(18) != 0;
  c.approved_at = q.Int(19);
  c.allow_signature_change = q.Int(20) != 0;
  return c;
}

constexpr const char* kCampaignDeviceCols =
    "campaign_id, device_id, ordinal, state, bytes_done, bytes_total, error, bytes_served, "
    "bytes_full, updated_at, prev_campaign_id, prev_model_id, prev_version, prev_sha256, "
    "prev_size";

Result<CampaignDeviceRecord> ReadCampaignDevice(const Stmt& q) {
  CampaignDeviceRecord d;
  d.campaign_id = q.Text(0);
  d.device_id = q.Text(1);
  d.ordinal = q.Int(2);
  OXIDE_ASSIGN_OR_RETURN(d.state, ParseDeviceRolloutState(q.Text(3)));
  d.bytes_done = q.U64(4);
  d.bytes_total = q.U64(5);
  d.error = q.Text(6);
  d.bytes_served = q.U64(7);
  d.bytes_full = q.U64(8);
  d.updated_at = q.Int(9);
  if (!q.IsNull(10)) {
    d.previous =
        AssignmentRecord{d.device_id, q.Text(10), q.Text(11), q.Text(12), q.Text(13), q.U64(14)};
  }
  return d;
}

void BindPrevious(Stmt& q, int first, const std::optional<AssignmentRecord>& p) {
  if (p) {
    q.Bind(first, p->campaign_id)
        .Bind(first + 1, p->model_id)
        .Bind(first + 2, p->version)
        .Bind(first + 3, p->sha256)
        .BindU64(first + 4, p->size_bytes);
  } else {
    for (int i = 0; i < 5; ++i) q.BindNull(first + i);
  }
}

}  // namespace

// ---- patches ---------------------------------------------------------------------------

Result<bool> SqlitePatchStore::Enqueue(const std::string& base_sha, const std::string& target_sha,
                                       TimeMs now) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(
      Stmt q, db_.Prepare("INSERT OR IGNORE INTO patches(base_sha256, target_sha256, state, "
                          "created_at, updated_at, seq) VALUES(?,?,'pending',?3,?3, "
                          "(SELECT COALESCE(MAX(seq),0)+1 FROM patches))"));
  OXIDE_RETURN_IF_ERROR(q.Bind(1, base_sha).Bind(2, target_sha).Bind(3, now).Run());
  return db_.Changes() > 0;
}

Result<PatchRecord> SqlitePatchStore::Get(const std::string& base_sha,
                                          const std::string& target_sha) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare(std::string("SELECT ") + kPatchCols +
                                             " FROM patches WHERE base_sha256=? AND "
                                             "target_sha256=?"));
  q.Bind(1, base_sha).Bind(2, target_sha);
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return NotFound("no patch " + base_sha + " -> " + target_sha);
  return ReadPatch(q);
}

Result<std::optional<PatchRecord>> SqlitePatchStore::NextPending(TimeMs now) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare(std::string("SELECT ") + kPatchCols +
                                             " FROM patches WHERE state='pending' AND "
                                             "not_before<=?1 AND lease_until<=?1 "
                                             "ORDER BY attempts, seq LIMIT 1"));
  q.Bind(1, now);
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<PatchRecord>();
  OXIDE_ASSIGN_OR_RETURN(auto p, ReadPatch(q));
  return std::optional<PatchRecord>(std::move(p));
}

Result<bool> SqlitePatchStore::WritePatch(const PatchRecord& p, const std::string* owner) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(
      Stmt q, db_.Prepare("UPDATE patches SET state=?1, patch_sha256=?2, patch_size=?3, "
                          "strategy=?4, error=?5, updated_at=?6, attempts=?7, not_before=?8 WHERE "
                          "base_sha256=?9 AND target_sha256=?10 AND (?11 IS NULL OR "
                          "(lease_owner=?11 AND lease_owner<>''))"));
  q.Bind(1, ToString(p.state))
      .Bind(2, p.patch_sha256)
      .BindU64(3, p.patch_size)
      .Bind(4, p.strategy)
      .Bind(5, p.error)
      .Bind(6, p.updated_at)
      .Bind(7, int64_t{p.attempts})
      .Bind(8, p.not_before)
      .Bind(9, p.base_sha256)
      .Bind(10, p.target_sha256);
  if (owner == nullptr) {
    q.BindNull(11);
  } else {
    q.Bind(11, *owner);
  }
  OXIDE_RETURN_IF_ERROR(q.Run());
  return db_.Changes() > 0;
}

Status SqlitePatchStore::Update(const PatchRecord& p) {
  OXIDE_ASSIGN_OR_RETURN(bool written, WritePatch(p, nullptr));
  if (!written) return NotFound("no patch " + p.base_sha256 + " -> " + p.target_sha256);
  return Status::Ok();
}

Result<std::vector<PatchRecord>> SqlitePatchStore::ListForTarget(const std::string& target_sha) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare(std::string("SELECT ") + kPatchCols +
                                             " FROM patches WHERE target_sha256=? ORDER BY seq"));
  q.Bind(1, target_sha);
  return ReadPatches(q);
}

Result<std::vector<PatchRecord>> SqlitePatchStore::ListWithBlob() {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare(std::string("SELECT ") + kPatchCols +
                                             " FROM patches WHERE patch_sha256<>'' ORDER BY seq"));
  return ReadPatches(q);
}

// ---- assignments -----------------------------------------------------------------------

Result<std::optional<AssignmentRecord>> SqliteAssignmentStore::Get(const std::string& device_id) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT device_id, campaign_id, model_id, version, "
                                             "sha256, size_bytes FROM assignments WHERE "
                                             "device_id=?"));
  q.Bind(1, device_id);
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<AssignmentRecord>();
  return std::optional<AssignmentRecord>(
      AssignmentRecord{q.Text(0), q.Text(1), q.Text(2), q.Text(3), q.Text(4), q.U64(5)});
}

Status SqliteAssignmentStore::Put(const AssignmentRecord& a) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("INSERT OR REPLACE INTO assignments(device_id, "
                                             "campaign_id, model_id, version, sha256, "
                                             "size_bytes) VALUES(?,?,?,?,?,?)"));
  return q.Bind(1, a.device_id)
      .Bind(2, a.campaign_id)
      .Bind(3, a.model_id)
      .Bind(4, a.version)
      .Bind(5, a.sha256)
      .BindU64(6, a.size_bytes)
      .Run();
}

Status SqliteAssignmentStore::Delete(const std::string& device_id) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("DELETE FROM assignments WHERE device_id=?"));
  return q.Bind(1, device_id).Run();
}

// ---- campaigns -------------------------------------------------------------------------

Result<CampaignRecord> SqliteCampaignStore::Create(
    const CampaignRecord& c, const std::vector<CampaignDeviceRecord>& devices) {
  Lock lock(db_.mu());
  OXIDE_RETURN_IF_ERROR(db_.Begin());
  Status st = [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(
        Stmt q, db_.Prepare("INSERT INTO campaigns(id, seq, model_id, version, target_sha256, "
                            "target_size, fleet_id, strategy, canary_percent, batch_size, "
                            "failure_threshold_count, failure_threshold_percent, state, "
                            "created_at, updated_at, has_target, require_approval, approved_at, "
                            "allow_signature_change) "
                            "VALUES(?1, (SELECT COALESCE(MAX(seq),0)+1 FROM campaigns), "
                            "?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)"));
    Status ins = q.Bind(1, c.id)
                     .Bind(2, c.model_id)
                     .Bind(3, c.version)
                     .Bind(4, c.target_sha256)
                     .BindU64(5, c.target_size)
                     .Bind(6, c.fleet_id)
                     .Bind(7, ToString(c.strategy))
                     .Bind(8, int64_t{c.canary_percent})
                     .Bind(9, int64_t{c.batch_size})
                     .Bind(10, int64_t{c.failure_threshold_count})
                     .Bind(11, int64_t{c.failure_threshold_percent})
                     .Bind(12, ToString(c.state))
                     .Bind(13, c.created_at)
                     .Bind(14, c.updated_at)
                     .Bind(15, int64_t{c.target.has_value()})
                     .Bind(16, int64_t{c.require_approval})
                     .Bind(17, c.approved_at)
                     .Bind(18, int64_t{c.allow_signature_change})
                     .Run();
    if (ins.code() == ErrorCode::kAlreadyExists) {
      return AlreadyExists("campaign '" + c.id + "' already exists");
    }
    OXIDE_RETURN_IF_ERROR(ins);
    OXIDE_RETURN_IF_ERROR(WriteTarget(c));
    for (const auto& d : devices) {
      OXIDE_ASSIGN_OR_RETURN(
          Stmt dq, db_.Prepare("INSERT INTO campaign_devices(campaign_id, device_id, ordinal, "
                               "state, updated_at) VALUES(?,?,?,?,?)"));
      OXIDE_RETURN_IF_ERROR(dq.Bind(1, c.id)
                                .Bind(2, d.device_id)
                                .Bind(3, d.ordinal)
                                .Bind(4, ToString(d.state))
                                .Bind(5, d.updated_at)
                                .Run());
    }
    return Status::Ok();
  }();
  OXIDE_RETURN_IF_ERROR(db_.End(st.ok()));
  OXIDE_RETURN_IF_ERROR(st);
  return Get(c.id);
}

Result<CampaignRecord> SqliteCampaignStore::Get(const std::string& id) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(
      Stmt q, db_.Prepare(std::string("SELECT ") + kCampaignCols + " FROM campaigns WHERE id=?"));
  q.Bind(1, id);
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return NotFound("campaign '" + id + "' not found");
  OXIDE_ASSIGN_OR_RETURN(auto c, ReadCampaign(q));
  OXIDE_RETURN_IF_ERROR(ReadTarget(&c));
  return c;
}

Result<std::vector<CampaignRecord>> SqliteCampaignStore::List() { return Query(CampaignQuery{}); }

Result<std::vector<CampaignRecord>> SqliteCampaignStore::Query(const CampaignQuery& cq) {
  Lock lock(db_.mu());
  int64_t after_seq = 0;
  if (!cq.after.empty()) {
    OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT seq FROM campaigns WHERE id=?"));
    q.Bind(1, cq.after);
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return NotFound("campaign '" + cq.after + "' not found");
    after_seq = q.Int(0);
  }
  std::string sql = std::string("SELECT ") + kCampaignCols + " FROM campaigns WHERE seq > ?1";
  if (cq.state) sql += " AND state=?2";
  sql += " ORDER BY seq LIMIT ?3";
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare(sql));
  q.Bind(1, after_seq).Bind(3, cq.limit == 0 ? int64_t{-1} : static_cast<int64_t>(cq.limit));
  if (cq.state) q.Bind(2, ToString(*cq.state));
  std::vector<CampaignRecord> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    OXIDE_ASSIGN_OR_RETURN(auto c, ReadCampaign(q));
    out.push_back(std::move(c));
  }
  for (auto& c : out) OXIDE_RETURN_IF_ERROR(ReadTarget(&c));
  return out;
}

Status SqliteCampaignStore::MarkApproved(const std::string& id, TimeMs at) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("UPDATE campaigns SET approved_at=? WHERE id=?"));
  OXIDE_RETURN_IF_ERROR(q.Bind(1, at).Bind(2, id).Run());
  if (db_.Changes() == 0) return NotFound("campaign '" + id + "' not found");
  return Status::Ok();
}

Status SqliteCampaignStore::WriteTarget(const CampaignRecord& c) {
  if (!c.target) return Status::Ok();
  for (const auto& [kind, entries] :
       {std::pair{"tag", &c.target->tags}, std::pair{"inventory", &c.target->inventory}}) {
    for (const auto& [k, v] : *entries) {
      OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("INSERT INTO campaign_targets(campaign_id, "
                                                 "kind, key, value) VALUES(?,?,?,?)"));
      OXIDE_RETURN_IF_ERROR(q.Bind(1, c.id).Bind(2, kind).Bind(3, k).Bind(4, v).Run());
    }
  }
  return Status::Ok();
}

Status SqliteCampaignStore::ReadTarget(CampaignRecord* c) {
  if (!c->target) return Status::Ok();
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT kind, key, value FROM campaign_targets "
                                             "WHERE campaign_id=? ORDER BY kind, key"));
  q.Bind(1, c->id);
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::Ok();
    auto& entries = q.Text(0) == "tag" ? c->target->tags : c->target->inventory;
    entries[q.Text(1)] = q.Text(2);
  }
}

Status SqliteCampaignStore::UpdateState(const std::string& id, CampaignState s, TimeMs now) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("UPDATE campaigns SET state=?, updated_at=? WHERE "
                                             "id=?"));
  OXIDE_RETURN_IF_ERROR(q.Bind(1, ToString(s)).Bind(2, now).Bind(3, id).Run());
  if (db_.Changes() == 0) return NotFound("campaign '" + id + "' not found");
  return Status::Ok();
}

Status SqliteCampaignStore::AddBytes(const std::string& id, const std::string& device_id,
                                     uint64_t served, uint64_t full) {
  Lock lock(db_.mu());
  OXIDE_RETURN_IF_ERROR(db_.Begin());
  Status st = [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("UPDATE campaigns SET bytes_served=bytes_served+?, "
                                               "bytes_full=bytes_full+? WHERE id=?"));
    OXIDE_RETURN_IF_ERROR(q.BindU64(1, served).BindU64(2, full).Bind(3, id).Run());
    if (db_.Changes() == 0) return NotFound("campaign '" + id + "' not found");
    OXIDE_ASSIGN_OR_RETURN(
        Stmt d, db_.Prepare("UPDATE campaign_devices SET bytes_served=bytes_served+?, "
                            "bytes_full=bytes_full+? WHERE campaign_id=? AND device_id=?"));
    return d.BindU64(1, served).BindU64(2, full).Bind(3, id).Bind(4, device_id).Run();
  }();
  OXIDE_RETURN_IF_ERROR(db_.End(st.ok()));
  return st;
}

Result<std::vector<CampaignDeviceRecord>> SqliteCampaignStore::ListDevices(const std::string& id) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare(std::string("SELECT ") + kCampaignDeviceCols +
                                             " FROM campaign_devices WHERE campaign_id=? "
                                             "ORDER BY ordinal"));
  q.Bind(1, id);
  std::vector<CampaignDeviceRecord> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    OXIDE_ASSIGN_OR_RETURN(auto d, ReadCampaignDevice(q));
    out.push_back(std::move(d));
  }
}

Result<CampaignDeviceRecord> SqliteCampaignStore::GetDevice(const std::string& id,
                                                            const std::string& device_id) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare(std::string("SELECT ") + kCampaignDeviceCols +
                                             " FROM campaign_devices WHERE campaign_id=? AND "
                                             "device_id=?"));
  q.Bind(1, id).Bind(2, device_id);
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return NotFound("device '" + device_id + "' is not in campaign '" + id + "'");
  return ReadCampaignDevice(q);
}

Result<std::vector<CampaignDeviceRecord>> SqliteCampaignStore::ListForDevice(
    const std::string& device_id) {
  Lock lock(db_.mu());
  std::string cols;
  for (std::string_view c :
       {"campaign_id", "device_id", "ordinal", "state", "bytes_done", "bytes_total", "error",
        "bytes_served", "bytes_full", "updated_at", "prev_campaign_id", "prev_model_id",
        "prev_version", "prev_sha256", "prev_size"}) {
    cols += (cols.empty() ? "d." : ", d.") + std::string(c);
  }
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT " + cols +
                                             " FROM campaign_devices d JOIN campaigns c ON "
                                             "c.id=d.campaign_id WHERE d.device_id=? ORDER BY "
                                             "c.seq"));
  q.Bind(1, device_id);
  std::vector<CampaignDeviceRecord> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    OXIDE_ASSIGN_OR_RETURN(auto d, ReadCampaignDevice(q));
    out.push_back(std::move(d));
  }
}

Status SqliteCampaignStore::UpdateDevice(const CampaignDeviceRecord& d) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(
      Stmt q, db_.Prepare("UPDATE campaign_devices SET state=?, bytes_done=?, bytes_total=?, "
                          "error=?, updated_at=?, prev_campaign_id=?, prev_model_id=?, "
                          "prev_version=?, prev_sha256=?, prev_size=? WHERE campaign_id=? AND "
                          "device_id=?"));
  q.Bind(1, ToString(d.state))
      .BindU64(2, d.bytes_done)
      .BindU64(3, d.bytes_total)
      .Bind(4, d.error)
      .Bind(5, d.updated_at);
  BindPrevious(q, 6, d.previous);
  OXIDE_RETURN_IF_ERROR(q.Bind(11, d.campaign_id).Bind(12, d.device_id).Run());
  if (db_.Changes() == 0) {
    return NotFound("device '" + d.device_id + "' is not in campaign '" + d.campaign_id + "'");
  }
  return Status::Ok();
}

}  // namespace oxide::store::sqlite::internal
