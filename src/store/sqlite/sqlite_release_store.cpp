// Signed release envelopes and the release key set chain over SQLite (migration 6).
#include "store/sqlite/sqlite_store_internal.hpp"

namespace oxide::store::sqlite::internal {

Status SqliteReleaseStore::Put(const std::string& model_id, const std::string& version,
                               const std::string& envelope_json, TimeMs now) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(
      Stmt q, db_.Prepare("INSERT OR REPLACE INTO model_releases(model_id, version, envelope, "
                          "updated_at) VALUES(?,?,?,?)"));
  return q.Bind(1, model_id).Bind(2, version).Bind(3, envelope_json).Bind(4, now).Run();
}

Result<std::string> SqliteReleaseStore::Get(const std::string& model_id,
                                            const std::string& version) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(
      Stmt q,
      db_.Prepare("SELECT envelope FROM model_releases WHERE model_id = ? AND version = ?"));
  q.Bind(1, model_id).Bind(2, version);
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return NotFound("no signed release for " + model_id + "@" + version);
  return q.Text(0);
}

Status SqliteReleaseStore::AppendKeySet(uint64_t version, const std::string& envelope_json,
                                        TimeMs now) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q,
                         db_.Prepare("INSERT INTO release_key_sets(version, envelope, created_at) "
                                     "VALUES(?,?,?)"));
  Status st = q.BindU64(1, version).Bind(2, envelope_json).Bind(3, now).Run();
  if (st.code() == ErrorCode::kAlreadyExists) {
    return AlreadyExists("key set v" + std::to_string(version) + " already exists");
  }
  return st;
}

Result<std::vector<std::string>> SqliteReleaseStore::ListKeySets() {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q,
                         db_.Prepare("SELECT envelope FROM release_key_sets ORDER BY version"));
  std::vector<std::string> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(q.Text(0));
  }
}

}  // namespace oxide::store::sqlite::internal
