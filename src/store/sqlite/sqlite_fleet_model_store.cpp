// Fleets and model versions over SQLite.
#include "store/sqlite/sqlite_store_internal.hpp"

namespace oxide::store::sqlite::internal {
namespace {

Result<bool> Exists(Db& db, const char* sql, const std::string& id) {
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db.Prepare(sql));
  q.Bind(1, id);
  return q.Step();
}

constexpr const char* kVersionCols =
    "model_id, version, sha256, size_bytes, format, uploaded_at, seq, signature, signature_change";

ModelVersionRecord ReadVersion(const Stmt& q) {
  ModelVersionRecord v;
  v.model_id = q.Text(0);
  v.version = q.Text(1);
  v.sha256 = q.Text(2);
  v.size_bytes = q.U64(3);
  v.format = q.Text(4);
  v.uploaded_at = q.Int(5);
  v.seq = q.Int(6);
  v.signature = q.Text(7);
  v.signature_change = q.Text(8);
  return v;
}

}  // namespace

// ---- fleets ----------------------------------------------------------------------------

Status SqliteFleetStore::Create(const FleetRecord& f) {
  Lock lock(db_.mu());
  OXIDE_RETURN_IF_ERROR(db_.Begin());
  Status st = [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("INSERT INTO fleets(id,name,created_at,"
                                               "description) VALUES(?,?,?,?)"));
    Status ins = q.Bind(1, f.id).Bind(2, f.name).Bind(3, f.created_at).Bind(4, f.description).Run();
    if (ins.code() == ErrorCode::kAlreadyExists) {
      return AlreadyExists("fleet '" + f.id + "' already exists");
    }
    OXIDE_RETURN_IF_ERROR(ins);
    for (const auto& [k, v] : f.tags) {
      OXIDE_ASSIGN_OR_RETURN(
          Stmt t, db_.Prepare("INSERT INTO fleet_tags(fleet_id,key,value) VALUES(?,?,?)"));
      OXIDE_RETURN_IF_ERROR(t.Bind(1, f.id).Bind(2, k).Bind(3, v).Run());
    }
    return Status::Ok();
  }();
  OXIDE_RETURN_IF_ERROR(db_.End(st.ok()));
  return st;
}

Status SqliteFleetStore::ReadTags(FleetRecord* f) {
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT key, value FROM fleet_tags WHERE "
                                             "fleet_id=? ORDER BY key"));
  q.Bind(1, f->id);
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::Ok();
    f->tags[q.Text(0)] = q.Text(1);
  }
}

Result<FleetRecord> SqliteFleetStore::Get(const std::string& id) {
  Lock lock(db_.mu());
  FleetRecord f;
  {
    OXIDE_ASSIGN_OR_RETURN(
        Stmt q, db_.Prepare("SELECT id,name,created_at,description FROM fleets WHERE id=?"));
    q.Bind(1, id);
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return NotFound("fleet '" + id + "' not found");
    f = FleetRecord{q.Text(0), q.Text(1), q.Int(2), q.Text(3), {}};
  }
  OXIDE_RETURN_IF_ERROR(ReadTags(&f));
  return f;
}

Result<std::vector<FleetRecord>> SqliteFleetStore::List() {
  Lock lock(db_.mu());
  std::vector<FleetRecord> out;
  {
    OXIDE_ASSIGN_OR_RETURN(
        Stmt q, db_.Prepare("SELECT id,name,created_at,description FROM fleets ORDER BY id"));
    while (true) {
      OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      out.push_back(FleetRecord{q.Text(0), q.Text(1), q.Int(2), q.Text(3), {}});
    }
  }
  for (auto& f : out) OXIDE_RETURN_IF_ERROR(ReadTags(&f));
  return out;
}

Status SqliteFleetStore::AddDevice(const std::string& fleet_id, const std::string& device_id) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(bool fleet, Exists(db_, "SELECT 1 FROM fleets WHERE id=?", fleet_id));
  if (!fleet) return NotFound("fleet '" + fleet_id + "' not found");
  OXIDE_ASSIGN_OR_RETURN(bool dev, Exists(db_, "SELECT 1 FROM devices WHERE id=?", device_id));
  if (!dev) return NotFound("device '" + device_id + "' not found");
  OXIDE_ASSIGN_OR_RETURN(
      Stmt q, db_.Prepare("INSERT OR IGNORE INTO fleet_devices(fleet_id, device_id, seq) "
                          "VALUES(?1, ?2, (SELECT COALESCE(MAX(seq),0)+1 FROM fleet_devices "
                          "WHERE fleet_id=?1))"));
  return q.Bind(1, fleet_id).Bind(2, device_id).Run();
}

Status SqliteFleetStore::RemoveDevice(const std::string& fleet_id, const std::string& device_id) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("DELETE FROM fleet_devices WHERE fleet_id=? AND "
                                             "device_id=?"));
  OXIDE_RETURN_IF_ERROR(q.Bind(1, fleet_id).Bind(2, device_id).Run());
  if (db_.Changes() == 0) {
    return NotFound("device '" + device_id + "' is not in fleet '" + fleet_id + "'");
  }
  return Status::Ok();
}

Result<std::vector<std::string>> SqliteFleetStore::ListDevices(const std::string& fleet_id) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT device_id FROM fleet_devices WHERE "
                                             "fleet_id=? ORDER BY seq"));
  q.Bind(1, fleet_id);
  std::vector<std::string> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(q.Text(0));
  }
}

Result<std::vector<std::string>> SqliteFleetStore::FleetsOfDevice(const std::string& device_id) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT fleet_id FROM fleet_devices WHERE "
                                             "device_id=? ORDER BY rowid"));
  q.Bind(1, device_id);
  std::vector<std::string> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(q.Text(0));
  }
}

// ---- model versions --------------------------------------------------------------------

Result<ModelVersionRecord> SqliteModelStore::Put(const ModelVersionRecord& v) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(
      Stmt q, db_.Prepare("INSERT OR REPLACE INTO model_versions(model_id, version, sha256, "
                          "size_bytes, format, uploaded_at, signature, signature_change, seq) "
                          "VALUES(?,?,?,?,?,?,?,?, "
                          "(SELECT COALESCE(MAX(seq),0)+1 FROM model_versions))"));
  OXIDE_RETURN_IF_ERROR(q.Bind(1, v.model_id)
                            .Bind(2, v.version)
                            .Bind(3, v.sha256)
                            .BindU64(4, v.size_bytes)
                            .Bind(5, v.format)
                            .Bind(6, v.uploaded_at)
                            .Bind(7, v.signature)
                            .Bind(8, v.signature_change)
                            .Run());
  return Get(v.model_id, v.version);
}

Result<ModelVersionRecord> SqliteModelStore::Get(const std::string& model_id,
                                                 const std::string& version) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q,
                         db_.Prepare(std::string("SELECT ") + kVersionCols +
                                     " FROM model_versions WHERE model_id=? AND version=?"));
  q.Bind(1, model_id).Bind(2, version);
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return NotFound("model '" + model_id + "' version '" + version + "' not found");
  return ReadVersion(q);
}

Result<std::vector<ModelVersionRecord>> SqliteModelStore::ListVersions(
    const std::string& model_id) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare(std::string("SELECT ") + kVersionCols +
                                             " FROM model_versions WHERE model_id=? ORDER BY seq"));
  q.Bind(1, model_id);
  std::vector<ModelVersionRecord> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(ReadVersion(q));
  }
}

Result<std::vector<std::string>> SqliteModelStore::ListModelIds() {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT DISTINCT model_id FROM model_versions "
                                             "ORDER BY model_id"));
  std::vector<std::string> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(q.Text(0));
  }
}

Result<ModelVersionRecord> SqliteModelStore::FindBySha(const std::string& sha256) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare(std::string("SELECT ") + kVersionCols +
                                             " FROM model_versions WHERE sha256=? ORDER BY seq "
                                             "DESC LIMIT 1"));
  q.Bind(1, sha256);
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return NotFound("no model version with sha256 " + sha256);
  return ReadVersion(q);
}

Result<std::vector<std::string>> SqliteModelStore::ListBlobShas() {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT DISTINCT sha256 FROM model_versions "
                                             "ORDER BY sha256"));
  std::vector<std::string> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(q.Text(0));
  }
}

Status SqliteModelStore::PutIndex(const TensorIndexRecord& r) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("INSERT OR REPLACE INTO tensor_indexes(sha256, "
                                             "format, tensor_count, data) VALUES(?,?,?,?)"));
  return q.Bind(1, r.sha256).Bind(2, r.format).BindU64(3, r.tensor_count).BindBlob(4, r.data).Run();
}

Result<TensorIndexRecord> SqliteModelStore::GetIndex(const std::string& sha256) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT sha256, format, tensor_count, data FROM "
                                             "tensor_indexes WHERE sha256=?"));
  q.Bind(1, sha256);
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return NotFound("no tensor index for " + sha256);
  return TensorIndexRecord{q.Text(0), q.Text(1), q.U64(2), q.Blob(3)};
}

}  // namespace oxide::store::sqlite::internal
