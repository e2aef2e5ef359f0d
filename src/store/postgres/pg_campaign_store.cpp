// Patches, assignments and campaigns over PostgreSQL.
#include <map>

#include "store/postgres/pg_store_internal.hpp"

namespace oxide::store::postgres::internal {
namespace {

constexpr const char* kPatchCols =
    "base_sha256, target_sha256, state, patch_sha256, patch_size, strategy, error, created_at, "
    "updated_at, attempts, not_before, lease_owner, lease_until";

Result<PatchRecord> ReadPatch(const Rows& q, size_t r) {
  PatchRecord p;
  p.base_sha256 = q.Text(r, 0);
  p.target_sha256 = q.Text(r, 1);
  OXIDE_ASSIGN_OR_RETURN(p.state, ParsePatchState(q.Text(r, 2)));
  p.patch_sha256 = q.Text(r, 3);
  p.patch_size = q.U64(r, 4);
  p.strategy = q.Text(r, 5);
  p.error = q.Text(r, 6);
  p.created_at = q.Int(r, 7);
  p.updated_at = q.Int(r, 8);
  p.attempts = static_cast<uint32_t>(q.Int(r, 9));
  p.not_before = q.Int(r, 10);
  p.lease_owner = q.Text(r, 11);
  p.lease_until = q.Int(r, 12);
  return p;
}

Result<std::vector<PatchRecord>> ReadPatches(const Rows& q) {
  std::vector<PatchRecord> out;
  for (size_t r = 0; r < q.size(); ++r) {
    OXIDE_ASSIGN_OR_RETURN(auto p, ReadPatch(q, r));
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::optional<PatchRecord>> FirstPatch(const Rows& q) {
  if (q.empty()) return std::optional<PatchRecord>();
  OXIDE_ASSIGN_OR_RETURN(auto p, ReadPatch(q, 0));
  return std::optional<PatchRecord>(std::move(p));
}

constexpr const char* kCampaignCols =
    "id, seq, model_id, version, target_sha256, target_size, fleet_id, strategy, canary_percent, "
    "batch_size, failure_threshold_count, failure_threshold_percent, state, created_at, "
    "updated_at, bytes_served, bytes_full, has_target, require_approval, approved_at, "
    "allow_signature_change";

Result<CampaignRecord> ReadCampaign(const Rows& q, size_t r) {
  CampaignRecord c;
  c.id = q.Text(r, 0);
  c.seq = q.Int(r, 1);
  c.model_id = q.Text(r, 2);
  c.version = q.Text(r, 3);
  c.target_sha256 = q.Text(r, 4);
  c.target_size = q.U64(r, 5);
  c.fleet_id = q.Text(r, 6);
  OXIDE_ASSIGN_OR_RETURN(c.strategy, ParseCampaignStrategy(q.Text(r, 7)));
  c.canary_percent = static_cast<uint32_t>(q.Int(r, 8));
  c.batch_size = static_cast<uint32_t>(q.Int(r, 9));
  c.failure_threshold_count = static_cast<uint32_t>(q.Int(r, 10));
  c.failure_threshold_percent = static_cast<uint32_t>(q.Int(r, 11));
  OXIDE_ASSIGN_OR_RETURN(c.state, ParseCampaignState(q.Text(r, 12)));
  c.created_at = q.Int(r, 13);
  c.updated_at = q.Int(r, 14);
  c.bytes_served = q.U64(r, 15);
  c.bytes_full = q.U64(r, 16);
  if (q.Int(r, 17) != 0) c.target.emplace();  // filled by ReadTargets
  c.require_approval = q.Int(r, 18) != 0;
  c.approved_at = q.Int(r, 19);
  c.allow_signature_change = q.Int(r, 20) != 0;
  return c;
}

constexpr const char* kCampaignDeviceCols =
    "d.campaign_id, d.device_id, d.ordinal, d.state, d.bytes_done, d.bytes_total, d.error, "
    "d.bytes_served, d.bytes_full, d.updated_at, d.prev_campaign_id, d.prev_model_id, "
    "d.prev_version, d.prev_sha256, d.prev_size";

Result<CampaignDeviceRecord> ReadCampaignDevice(const Rows& q, size_t r) {
  CampaignDeviceRecord d;
  d.campaign_id = q.Text(r, 0);
  d.device_id = q.Text(r, 1);
  d.ordinal = q.Int(r, 2);
  OXIDE_ASSIGN_OR_RETURN(d.state, ParseDeviceRolloutState(q.Text(r, 3)));
  d.bytes_done = q.U64(r, 4);
  d.bytes_total = q.U64(r, 5);
  d.error = q.Text(r, 6);
  d.bytes_served = q.U64(r, 7);
  d.bytes_full = q.U64(r, 8);
  d.updated_at = q.Int(r, 9);
  if (!q.IsNull(r, 10)) {
    d.previous = AssignmentRecord{d.device_id,   q.Text(r, 10), q.Text(r, 11),
                                  q.Text(r, 12), q.Text(r, 13), q.U64(r, 14)};
  }
  return d;
}

Result<std::vector<CampaignDeviceRecord>> ReadCampaignDevices(const Rows& q) {
  std::vector<CampaignDeviceRecord> out;
  for (size_t r = 0; r < q.size(); ++r) {
    OXIDE_ASSIGN_OR_RETURN(auto d, ReadCampaignDevice(q, r));
    out.push_back(std::move(d));
  }
  return out;
}

void AddPrevious(Params& p, const std::optional<AssignmentRecord>& prev) {
  if (prev) {
    p.Add(prev->campaign_id).Add(prev->model_id).Add(prev->version).Add(prev->sha256);
    p.AddU64(prev->size_bytes);
  } else {
    for (int i = 0; i < 5; ++i) p.AddNull();
  }
}

}  // namespace

// ---- patches ---------------------------------------------------------------------------

Result<bool> PgPatchStore::Enqueue(const std::string& base_sha, const std::string& target_sha,
                                   TimeMs now) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("INSERT INTO patches(base_sha256, target_sha256, state, "
                                          "created_at, updated_at) VALUES($1,$2,'pending',$3,$3) "
                                          "ON CONFLICT DO NOTHING",
                                          Params().Add(base_sha).Add(target_sha).Add(now)));
  return q.affected() > 0;
}

Result<PatchRecord> PgPatchStore::Get(const std::string& base_sha, const std::string& target_sha) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec(std::string("SELECT ") + kPatchCols +
                                              " FROM patches WHERE base_sha256=$1 AND "
                                              "target_sha256=$2",
                                          Params().Add(base_sha).Add(target_sha)));
  if (q.empty()) return NotFound("no patch " + base_sha + " -> " + target_sha);
  return ReadPatch(q, 0);
}

Result<std::optional<PatchRecord>> PgPatchStore::NextPending(TimeMs now) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec(std::string("SELECT ") + kPatchCols +
                                              " FROM patches WHERE state='pending' AND "
                                              "not_before<=$1 AND lease_until<=$1 "
                                              "ORDER BY attempts, seq LIMIT 1",
                                          Params().Add(now)));
  return FirstPatch(q);
}

Result<std::optional<PatchRecord>> PgPatchStore::Claim(TimeMs now, const std::string& owner,
                                                       int64_t lease_ms) {
  // The row lock taken by the subquery makes a concurrent Claim skip this job rather than wait
  // for it and then take it too.
  OXIDE_ASSIGN_OR_RETURN(
      Rows q, db_.Exec(std::string("UPDATE patches SET lease_owner=$2, lease_until=$3 WHERE "
                                   "(base_sha256, target_sha256) = (SELECT base_sha256, "
                                   "target_sha256 FROM patches WHERE state='pending' AND "
                                   "not_before<=$1 AND lease_until<=$1 ORDER BY attempts, seq "
                                   "LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING ") +
                           kPatchCols,
                       Params().Add(now).Add(owner).Add(now + lease_ms)));
  return FirstPatch(q);
}

Status PgPatchStore::RenewLease(const std::string& base_sha, const std::string& target_sha,
                                const std::string& owner, TimeMs until) {
  OXIDE_ASSIGN_OR_RETURN(Rows q,
                         db_.Exec("UPDATE patches SET lease_until=$4 WHERE base_sha256=$1 "
                                  "AND target_sha256=$2 AND lease_owner=$3 AND lease_owner<>''",
                                  Params().Add(base_sha).Add(target_sha).Add(owner).Add(until)));
  if (q.affected() == 0) {
    return FailedPrecondition("patch " + base_sha + " -> " + target_sha + " is not leased to '" +
                              owner + "'");
  }
  return Status::Ok();
}

Status PgPatchStore::UpdateLeased(const PatchRecord& p, const std::string& owner) {
  OXIDE_ASSIGN_OR_RETURN(bool written, WritePatch(p, &owner));
  if (written) return Status::Ok();
  OXIDE_ASSIGN_OR_RETURN(Rows exists,
                         db_.Exec("SELECT 1 FROM patches WHERE base_sha256=$1 AND target_sha256=$2",
                                  Params().Add(p.base_sha256).Add(p.target_sha256)));
  if (exists.empty()) return NotFound("no patch " + p.base_sha256 + " -> " + p.target_sha256);
  return FailedPrecondition("patch " + p.base_sha256 + " -> " + p.target_sha256 +
                            " is not leased to '" + owner + "'");
}

Status PgPatchStore::ReleaseLease(const std::string& base_sha, const std::string& target_sha,
                                  const std::string& owner) {
  return db_
      .Exec(
          "UPDATE patches SET lease_owner='', lease_until=0 WHERE base_sha256=$1 AND "
          "target_sha256=$2 AND lease_owner=$3 AND lease_owner<>''",
          Params().Add(base_sha).Add(target_sha).Add(owner))
      .status();
}

Result<bool> PgPatchStore::WritePatch(const PatchRecord& p, const std::string* owner) {
  Params params;
  params.Add(ToString(p.state))
      .Add(p.patch_sha256)
      .AddU64(p.patch_size)
      .Add(p.strategy)
      .Add(p.error)
      .Add(p.updated_at)
      .Add(int64_t{p.attempts})
      .Add(p.not_before)
      .Add(p.base_sha256)
      .Add(p.target_sha256);
  if (owner == nullptr) {
    params.AddNull();
  } else {
    params.Add(*owner);
  }
  OXIDE_ASSIGN_OR_RETURN(
      Rows q, db_.Exec("UPDATE patches SET state=$1, patch_sha256=$2, patch_size=$3, strategy=$4, "
                       "error=$5, updated_at=$6, attempts=$7, not_before=$8 WHERE base_sha256=$9 "
                       "AND target_sha256=$10 AND ($11::text IS NULL OR "
                       "(lease_owner=$11::text AND lease_owner<>''))",
                       params));
  return q.affected() > 0;
}

Status PgPatchStore::Update(const PatchRecord& p) {
  OXIDE_ASSIGN_OR_RETURN(bool written, WritePatch(p, nullptr));
  if (!written) return NotFound("no patch " + p.base_sha256 + " -> " + p.target_sha256);
  return Status::Ok();
}

Result<std::vector<PatchRecord>> PgPatchStore::ListForTarget(const std::string& target_sha) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec(std::string("SELECT ") + kPatchCols +
                                              " FROM patches WHERE target_sha256=$1 ORDER BY seq",
                                          Params().Add(target_sha)));
  return ReadPatches(q);
}

Result<std::vector<PatchRecord>> PgPatchStore::ListWithBlob() {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec(std::string("SELECT ") + kPatchCols +
                                          " FROM patches WHERE patch_sha256<>'' ORDER BY seq"));
  return ReadPatches(q);
}

// ---- assignments -----------------------------------------------------------------------

Result<std::optional<AssignmentRecord>> PgAssignmentStore::Get(const std::string& device_id) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("SELECT device_id, campaign_id, model_id, version, "
                                          "sha256, size_bytes FROM assignments WHERE "
                                          "device_id=$1",
                                          Params().Add(device_id)));
  if (q.empty()) return std::optional<AssignmentRecord>();
  return std::optional<AssignmentRecord>(AssignmentRecord{q.Text(0, 0), q.Text(0, 1), q.Text(0, 2),
                                                          q.Text(0, 3), q.Text(0, 4), q.U64(0, 5)});
}

Status PgAssignmentStore::Put(const AssignmentRecord& a) {
  return db_
      .Exec(
          "INSERT INTO assignments(device_id, campaign_id, model_id, version, sha256, "
          "size_bytes) VALUES($1,$2,$3,$4,$5,$6) ON CONFLICT (device_id) DO UPDATE SET "
          "campaign_id=excluded.campaign_id, model_id=excluded.model_id, "
          "version=excluded.version, sha256=excluded.sha256, size_bytes=excluded.size_bytes",
          Params()
              .Add(a.device_id)
              .Add(a.campaign_id)
              .Add(a.model_id)
              .Add(a.version)
              .Add(a.sha256)
              .AddU64(a.size_bytes))
      .status();
}

Status PgAssignmentStore::Delete(const std::string& device_id) {
  return db_.Exec("DELETE FROM assignments WHERE device_id=$1", Params().Add(device_id)).status();
}

// ---- campaigns -------------------------------------------------------------------------

Result<CampaignRecord> PgCampaignStore::Create(const CampaignRecord& c,
                                               const std::vector<CampaignDeviceRecord>& devices) {
  Status created = db_.InTransaction(0, [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(
        Rows ins, db_.Exec("INSERT INTO campaigns(id, model_id, version, target_sha256, "
                           "target_size, fleet_id, strategy, canary_percent, batch_size, "
                           "failure_threshold_count, failure_threshold_percent, state, "
                           "created_at, updated_at, has_target, require_approval, approved_at, "
                           "allow_signature_change) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,"
                           "$12,$13,$14,$15,$16,$17,$18) "
                           "ON CONFLICT DO NOTHING",
                           Params()
                               .Add(c.id)
                               .Add(c.model_id)
                               .Add(c.version)
                               .Add(c.target_sha256)
                               .AddU64(c.target_size)
                               .Add(c.fleet_id)
                               .Add(ToString(c.strategy))
                               .Add(int64_t{c.canary_percent})
                               .Add(int64_t{c.batch_size})
                               .Add(int64_t{c.failure_threshold_count})
                               .Add(int64_t{c.failure_threshold_percent})
                               .Add(ToString(c.state))
                               .Add(c.created_at)
                               .Add(c.updated_at)
                               .Add(int64_t{c.target.has_value()})
                               .Add(int64_t{c.require_approval})
                               .Add(c.approved_at)
                               .Add(int64_t{c.allow_signature_change})));
    if (ins.affected() == 0) return AlreadyExists("campaign '" + c.id + "' already exists");
    OXIDE_RETURN_IF_ERROR(WriteTarget(c));
    for (const auto& d : devices) {
      OXIDE_RETURN_IF_ERROR(db_.Exec("INSERT INTO campaign_devices(campaign_id, device_id, "
                                     "ordinal, state, updated_at) VALUES($1,$2,$3,$4,$5)",
                                     Params()
                                         .Add(c.id)
                                         .Add(d.device_id)
                                         .Add(d.ordinal)
                                         .Add(ToString(d.state))
                                         .Add(d.updated_at))
                                .status());
    }
    return Status::Ok();
  });
  OXIDE_RETURN_IF_ERROR(created);
  return Get(c.id);
}

Result<CampaignRecord> PgCampaignStore::Get(const std::string& id) {
  OXIDE_ASSIGN_OR_RETURN(
      Rows q, db_.Exec(std::string("SELECT ") + kCampaignCols + " FROM campaigns WHERE id=$1",
                       Params().Add(id)));
  if (q.empty()) return NotFound("campaign '" + id + "' not found");
  OXIDE_ASSIGN_OR_RETURN(auto c, ReadCampaign(q, 0));
  std::vector<CampaignRecord> one{std::move(c)};
  OXIDE_RETURN_IF_ERROR(ReadTargets(&one));
  return std::move(one.front());
}

Result<std::vector<CampaignRecord>> PgCampaignStore::List() { return Query(CampaignQuery{}); }

Result<std::vector<CampaignRecord>> PgCampaignStore::Query(const CampaignQuery& cq) {
  int64_t after_seq = 0;
  if (!cq.after.empty()) {
    OXIDE_ASSIGN_OR_RETURN(
        Rows q, db_.Exec("SELECT seq FROM campaigns WHERE id=$1", Params().Add(cq.after)));
    if (q.empty()) return NotFound("campaign '" + cq.after + "' not found");
    after_seq = q.Int(0, 0);
  }
  Params p;
  std::string sql = std::string("SELECT ") + kCampaignCols + " FROM campaigns WHERE seq > " +
                    p.Add(after_seq).Last();
  if (cq.state) sql += " AND state=" + p.Add(ToString(*cq.state)).Last();
  sql += " ORDER BY seq";
  if (cq.limit != 0) sql += " LIMIT " + p.AddLimit(cq.limit).Last();
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec(sql, p));
  std::vector<CampaignRecord> out;
  for (size_t r = 0; r < q.size(); ++r) {
    OXIDE_ASSIGN_OR_RETURN(auto c, ReadCampaign(q, r));
    out.push_back(std::move(c));
  }
  OXIDE_RETURN_IF_ERROR(ReadTargets(&out));
  return out;
}

Status PgCampaignStore::MarkApproved(const std::string& id, TimeMs at) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("UPDATE campaigns SET approved_at=$1 WHERE id=$2",
                                          Params().Add(at).Add(id)));
  if (q.affected() == 0) return NotFound("campaign '" + id + "' not found");
  return Status::Ok();
}

Status PgCampaignStore::WriteTarget(const CampaignRecord& c) {
  if (!c.target) return Status::Ok();
  for (const auto& [kind, entries] :
       {std::pair{"tag", &c.target->tags}, std::pair{"inventory", &c.target->inventory}}) {
    for (const auto& [k, v] : *entries) {
      OXIDE_RETURN_IF_ERROR(db_.Exec("INSERT INTO campaign_targets(campaign_id, kind, key, "
                                     "value) VALUES($1,$2,$3,$4)",
                                     Params().Add(c.id).Add(kind).Add(k).Add(v))
                                .status());
    }
  }
  return Status::Ok();
}

Status PgCampaignStore::ReadTargets(std::vector<CampaignRecord>* campaigns) {
  for (auto& c : *campaigns) {
    if (!c.target) continue;
    OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("SELECT kind, key, value FROM campaign_targets "
                                            "WHERE campaign_id=$1 ORDER BY kind, key",
                                            Params().Add(c.id)));
    for (size_t r = 0; r < q.size(); ++r) {
      auto& entries = q.Text(r, 0) == "tag" ? c.target->tags : c.target->inventory;
      entries[q.Text(r, 1)] = q.Text(r, 2);
    }
  }
  return Status::Ok();
}

Status PgCampaignStore::UpdateState(const std::string& id, CampaignState s, TimeMs now) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("UPDATE campaigns SET state=$1, updated_at=$2 WHERE "
                                          "id=$3",
                                          Params().Add(ToString(s)).Add(now).Add(id)));
  if (q.affected() == 0) return NotFound("campaign '" + id + "' not found");
  return Status::Ok();
}

Status PgCampaignStore::AddBytes(const std::string& id, const std::string& device_id,
                                 uint64_t served, uint64_t full) {
  return db_.InTransaction(0, [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("UPDATE campaigns SET bytes_served=bytes_served+$1, "
                                            "bytes_full=bytes_full+$2 WHERE id=$3",
                                            Params().AddU64(served).AddU64(full).Add(id)));
    if (q.affected() == 0) return NotFound("campaign '" + id + "' not found");
    return db_
        .Exec(
            "UPDATE campaign_devices SET bytes_served=bytes_served+$1, "
            "bytes_full=bytes_full+$2 WHERE campaign_id=$3 AND device_id=$4",
            Params().AddU64(served).AddU64(full).Add(id).Add(device_id))
        .status();
  });
}

Result<std::vector<CampaignDeviceRecord>> PgCampaignStore::ListDevices(const std::string& id) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec(std::string("SELECT ") + kCampaignDeviceCols +
                                              " FROM campaign_devices d WHERE d.campaign_id=$1 "
                                              "ORDER BY d.ordinal",
                                          Params().Add(id)));
  return ReadCampaignDevices(q);
}

Result<CampaignDeviceRecord> PgCampaignStore::GetDevice(const std::string& id,
                                                        const std::string& device_id) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec(std::string("SELECT ") + kCampaignDeviceCols +
                                              " FROM campaign_devices d WHERE d.campaign_id=$1 "
                                              "AND d.device_id=$2",
                                          Params().Add(id).Add(device_id)));
  if (q.empty()) return NotFound("device '" + device_id + "' is not in campaign '" + id + "'");
  return ReadCampaignDevice(q, 0);
}

Result<std::vector<CampaignDeviceRecord>> PgCampaignStore::ListForDevice(
    const std::string& device_id) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec(std::string("SELECT ") + kCampaignDeviceCols +
                                              " FROM campaign_devices d JOIN campaigns c ON "
                                              "c.id=d.campaign_id WHERE d.device_id=$1 ORDER BY "
                                              "c.seq",
                                          Params().Add(device_id)));
  return ReadCampaignDevices(q);
}

Status PgCampaignStore::UpdateDevice(const CampaignDeviceRecord& d) {
  Params p;
  p.Add(ToString(d.state)).AddU64(d.bytes_done).AddU64(d.bytes_total).Add(d.error);
  p.Add(d.updated_at);
  AddPrevious(p, d.previous);
  p.Add(d.campaign_id).Add(d.device_id);
  OXIDE_ASSIGN_OR_RETURN(
      Rows q, db_.Exec("UPDATE campaign_devices SET state=$1, bytes_done=$2, bytes_total=$3, "
                       "error=$4, updated_at=$5, prev_campaign_id=$6, prev_model_id=$7, "
                       "prev_version=$8, prev_sha256=$9, prev_size=$10 WHERE campaign_id=$11 AND "
                       "device_id=$12",
                       p));
  if (q.affected() == 0) {
    return NotFound("device '" + d.device_id + "' is not in campaign '" + d.campaign_id + "'");
  }
  return Status::Ok();
}

}  // namespace oxide::store::postgres::internal
