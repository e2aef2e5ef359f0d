// Signed release envelopes and the release key set chain over SQLite (migration 6), and the
// golden files of model versions (issue #11).
#include "store/decimal_text.hpp"
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

// ---- golden files (issue #11) ------------------------------------------------------------

Status SqliteGoldenStore::Put(const GoldenRecord& g) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(
      Stmt q, db_.Prepare("INSERT OR REPLACE INTO model_golden(model_id, version, sha256, "
                          "size_bytes, tolerance, latency_budget_ms, uploaded_at) "
                          "VALUES(?,?,?,?,?,?,?)"));
  return q.Bind(1, g.model_id)
      .Bind(2, g.version)
      .Bind(3, g.sha256)
      .BindU64(4, g.size_bytes)
      .Bind(5, DecimalText(g.tolerance))
      .Bind(6, DecimalText(g.latency_budget_ms))
      .Bind(7, g.uploaded_at)
      .Run();
}

Result<std::optional<GoldenRecord>> SqliteGoldenStore::Get(const std::string& model_id,
                                                           const std::string& version) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(
      Stmt q, db_.Prepare("SELECT sha256, size_bytes, tolerance, latency_budget_ms, uploaded_at "
                          "FROM model_golden WHERE model_id = ? AND version = ?"));
  q.Bind(1, model_id).Bind(2, version);
  OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<GoldenRecord>();
  GoldenRecord g;
  g.model_id = model_id;
  g.version = version;
  g.sha256 = q.Text(0);
  g.size_bytes = q.U64(1);
  g.tolerance = ParseDecimalText(q.Text(2)).value_or(0);
  g.latency_budget_ms = ParseDecimalText(q.Text(3));
  g.uploaded_at = q.Int(4);
  return std::optional<GoldenRecord>(std::move(g));
}

Status SqliteGoldenStore::Delete(const std::string& model_id, const std::string& version) {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(
      Stmt q, db_.Prepare("DELETE FROM model_golden WHERE model_id = ? AND version = ?"));
  OXIDE_RETURN_IF_ERROR(q.Bind(1, model_id).Bind(2, version).Run());
  if (db_.Changes() == 0) return NotFound("no golden file for " + model_id + "@" + version);
  return Status::Ok();
}

Result<std::vector<std::string>> SqliteGoldenStore::ListBlobShas() {
  Lock lock(db_.mu());
  OXIDE_ASSIGN_OR_RETURN(Stmt q,
                         db_.Prepare("SELECT DISTINCT sha256 FROM model_golden ORDER BY sha256"));
  std::vector<std::string> out;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(q.Text(0));
  }
}

}  // namespace oxide::store::sqlite::internal
