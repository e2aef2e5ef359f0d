// Fleets and model versions over PostgreSQL.
#include <map>

#include "store/postgres/pg_store_internal.hpp"

namespace oxide::store::postgres::internal {
namespace {

constexpr const char* kVersionCols =
    "model_id, version, sha256, size_bytes, format, uploaded_at, seq, signature, signature_change";

ModelVersionRecord ReadVersion(const Rows& q, size_t r) {
  ModelVersionRecord v;
  v.model_id = q.Text(r, 0);
  v.version = q.Text(r, 1);
  v.sha256 = q.Text(r, 2);
  v.size_bytes = q.U64(r, 3);
  v.format = q.Text(r, 4);
  v.uploaded_at = q.Int(r, 5);
  v.seq = q.Int(r, 6);
  v.signature = q.Text(r, 7);
  v.signature_change = q.Text(r, 8);
  return v;
}

std::vector<std::string> Column(const Rows& q) {
  std::vector<std::string> out;
  out.reserve(q.size());
  for (size_t r = 0; r < q.size(); ++r) out.push_back(q.Text(r, 0));
  return out;
}

}  // namespace

// ---- fleets ----------------------------------------------------------------------------

Status PgFleetStore::Create(const FleetRecord& f) {
  return db_.InTransaction(0, [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(
        Rows ins, db_.Exec("INSERT INTO fleets(id,name,created_at,description) "
                           "VALUES($1,$2,$3,$4) ON CONFLICT DO NOTHING",
                           Params().Add(f.id).Add(f.name).Add(f.created_at).Add(f.description)));
    if (ins.affected() == 0) return AlreadyExists("fleet '" + f.id + "' already exists");
    for (const auto& [k, v] : f.tags) {
      OXIDE_RETURN_IF_ERROR(db_.Exec("INSERT INTO fleet_tags(fleet_id,key,value) "
                                     "VALUES($1,$2,$3)",
                                     Params().Add(f.id).Add(k).Add(v))
                                .status());
    }
    return Status::Ok();
  });
}

Status PgFleetStore::ReadTags(std::vector<FleetRecord>* fleets) {
  if (fleets->empty()) return Status::Ok();
  std::map<std::string, FleetRecord*> by_id;
  for (auto& f : *fleets) by_id[f.id] = &f;
  Result<Rows> q = fleets->size() == 1
                       ? db_.Exec("SELECT fleet_id, key, value FROM fleet_tags WHERE fleet_id=$1",
                                  Params().Add(fleets->front().id))
                       : db_.Exec("SELECT fleet_id, key, value FROM fleet_tags");
  OXIDE_RETURN_IF_ERROR(q.status());
  for (size_t r = 0; r < q->size(); ++r) {
    auto it = by_id.find(q->Text(r, 0));
    if (it != by_id.end()) it->second->tags[q->Text(r, 1)] = q->Text(r, 2);
  }
  return Status::Ok();
}

Result<FleetRecord> PgFleetStore::Get(const std::string& id) {
  OXIDE_ASSIGN_OR_RETURN(
      Rows q,
      db_.Exec("SELECT id,name,created_at,description FROM fleets WHERE id=$1", Params().Add(id)));
  if (q.empty()) return NotFound("fleet '" + id + "' not found");
  std::vector<FleetRecord> one{
      FleetRecord{q.Text(0, 0), q.Text(0, 1), q.Int(0, 2), q.Text(0, 3), {}}};
  OXIDE_RETURN_IF_ERROR(ReadTags(&one));
  return std::move(one.front());
}

Result<std::vector<FleetRecord>> PgFleetStore::List() {
  OXIDE_ASSIGN_OR_RETURN(Rows q,
                         db_.Exec("SELECT id,name,created_at,description FROM fleets ORDER BY id"));
  std::vector<FleetRecord> out;
  for (size_t r = 0; r < q.size(); ++r) {
    out.push_back(FleetRecord{q.Text(r, 0), q.Text(r, 1), q.Int(r, 2), q.Text(r, 3), {}});
  }
  OXIDE_RETURN_IF_ERROR(ReadTags(&out));
  return out;
}

Status PgFleetStore::AddDevice(const std::string& fleet_id, const std::string& device_id) {
  OXIDE_ASSIGN_OR_RETURN(Rows f,
                         db_.Exec("SELECT 1 FROM fleets WHERE id=$1", Params().Add(fleet_id)));
  if (f.empty()) return NotFound("fleet '" + fleet_id + "' not found");
  OXIDE_ASSIGN_OR_RETURN(Rows d,
                         db_.Exec("SELECT 1 FROM devices WHERE id=$1", Params().Add(device_id)));
  if (d.empty()) return NotFound("device '" + device_id + "' not found");
  return db_
      .Exec(
          "INSERT INTO fleet_devices(fleet_id, device_id) VALUES($1, $2) "
          "ON CONFLICT DO NOTHING",
          Params().Add(fleet_id).Add(device_id))
      .status();
}

Status PgFleetStore::RemoveDevice(const std::string& fleet_id, const std::string& device_id) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("DELETE FROM fleet_devices WHERE fleet_id=$1 AND "
                                          "device_id=$2",
                                          Params().Add(fleet_id).Add(device_id)));
  if (q.affected() == 0) {
    return NotFound("device '" + device_id + "' is not in fleet '" + fleet_id + "'");
  }
  return Status::Ok();
}

Result<std::vector<std::string>> PgFleetStore::ListDevices(const std::string& fleet_id) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("SELECT device_id FROM fleet_devices WHERE "
                                          "fleet_id=$1 ORDER BY seq",
                                          Params().Add(fleet_id)));
  return Column(q);
}

Result<std::vector<std::string>> PgFleetStore::FleetsOfDevice(const std::string& device_id) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("SELECT fleet_id FROM fleet_devices WHERE "
                                          "device_id=$1 ORDER BY seq",
                                          Params().Add(device_id)));
  return Column(q);
}

// ---- model versions --------------------------------------------------------------------

Result<ModelVersionRecord> PgModelStore::Put(const ModelVersionRecord& v) {
  OXIDE_ASSIGN_OR_RETURN(
      Rows q, db_.Exec(std::string("INSERT INTO model_versions(model_id, version, sha256, "
                                   "size_bytes, format, uploaded_at, signature, signature_change) "
                                   "VALUES($1,$2,$3,$4,$5,$6,$7,$8) "
                                   "ON CONFLICT (model_id, version) DO UPDATE SET "
                                   "sha256=excluded.sha256, size_bytes=excluded.size_bytes, "
                                   "format=excluded.format, uploaded_at=excluded.uploaded_at, "
                                   "signature=excluded.signature, "
                                   "signature_change=excluded.signature_change, "
                                   "seq=nextval('model_versions_seq') RETURNING ") +
                           kVersionCols,
                       Params()
                           .Add(v.model_id)
                           .Add(v.version)
                           .Add(v.sha256)
                           .AddU64(v.size_bytes)
                           .Add(v.format)
                           .Add(v.uploaded_at)
                           .Add(v.signature)
                           .Add(v.signature_change)));
  return ReadVersion(q, 0);
}

Result<ModelVersionRecord> PgModelStore::Get(const std::string& model_id,
                                             const std::string& version) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec(std::string("SELECT ") + kVersionCols +
                                              " FROM model_versions WHERE model_id=$1 AND "
                                              "version=$2",
                                          Params().Add(model_id).Add(version)));
  if (q.empty()) return NotFound("model '" + model_id + "' version '" + version + "' not found");
  return ReadVersion(q, 0);
}

Result<std::vector<ModelVersionRecord>> PgModelStore::ListVersions(const std::string& model_id) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec(std::string("SELECT ") + kVersionCols +
                                              " FROM model_versions WHERE model_id=$1 ORDER BY seq",
                                          Params().Add(model_id)));
  std::vector<ModelVersionRecord> out;
  for (size_t r = 0; r < q.size(); ++r) out.push_back(ReadVersion(q, r));
  return out;
}

Result<std::vector<std::string>> PgModelStore::ListModelIds() {
  OXIDE_ASSIGN_OR_RETURN(
      Rows q, db_.Exec("SELECT DISTINCT model_id FROM model_versions ORDER BY model_id"));
  return Column(q);
}

Result<ModelVersionRecord> PgModelStore::FindBySha(const std::string& sha256) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec(std::string("SELECT ") + kVersionCols +
                                              " FROM model_versions WHERE sha256=$1 ORDER BY seq "
                                              "DESC LIMIT 1",
                                          Params().Add(sha256)));
  if (q.empty()) return NotFound("no model version with sha256 " + sha256);
  return ReadVersion(q, 0);
}

Result<std::vector<std::string>> PgModelStore::ListBlobShas() {
  OXIDE_ASSIGN_OR_RETURN(Rows q,
                         db_.Exec("SELECT DISTINCT sha256 FROM model_versions ORDER BY sha256"));
  return Column(q);
}

Status PgModelStore::PutIndex(const TensorIndexRecord& r) {
  return db_
      .Exec(
          "INSERT INTO tensor_indexes(sha256, format, tensor_count, data) "
          "VALUES($1,$2,$3,decode($4,'hex')) ON CONFLICT (sha256) DO UPDATE SET "
          "format=excluded.format, tensor_count=excluded.tensor_count, data=excluded.data",
          Params().Add(r.sha256).Add(r.format).AddU64(r.tensor_count).AddBytes(r.data))
      .status();
}

Result<TensorIndexRecord> PgModelStore::GetIndex(const std::string& sha256) {
  OXIDE_ASSIGN_OR_RETURN(Rows q, db_.Exec("SELECT sha256, format, tensor_count, "
                                          "encode(data,'hex') FROM tensor_indexes WHERE sha256=$1",
                                          Params().Add(sha256)));
  if (q.empty()) return NotFound("no tensor index for " + sha256);
  return TensorIndexRecord{q.Text(0, 0), q.Text(0, 1), q.U64(0, 2), q.Bytes(0, 3)};
}

}  // namespace oxide::store::postgres::internal
