// Golden checks of model versions (issue #11): the golden file (inference/golden.hpp) is a blob
// like the model, recorded per version in the store's golden table.
#include "base/file_util.hpp"
#include "inference/golden.hpp"
#include "server/service/ids.hpp"
#include "server/service/model_service.hpp"

namespace oxide::server {

Result<store::GoldenRecord> ModelService::PutGolden(const std::string& model_id,
                                                    const std::string& version,
                                                    BlobWriter& staged) {
  OXIDE_RETURN_IF_ERROR(GetVersion(model_id, version).status());  // kNotFound: 404
  if (staged.size() > kMaxGoldenBytes) {
    return Status(ErrorCode::kResourceExhausted,
                  "golden file is larger than " + std::to_string(kMaxGoldenBytes) + " bytes");
  }
  OXIDE_ASSIGN_OR_RETURN(BlobInfo blob, staged.Seal());
  OXIDE_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(staged.temp_path(), kMaxGoldenBytes));
  Result<inference::Golden> golden = inference::ParseGolden(bytes);
  if (!golden.ok()) {
    // A file that is not a golden file is the caller's mistake (422), corrupt or not.
    return InvalidArgument(golden.status().message());
  }
  store::GoldenRecord rec;
  rec.model_id = model_id;
  rec.version = version;
  rec.sha256 = blob.sha256;
  rec.size_bytes = blob.size;
  rec.tolerance = golden->tolerance;
  rec.latency_budget_ms = golden->latency_budget_ms;
  rec.uploaded_at = clock_.UnixMillis();
  OXIDE_RETURN_IF_ERROR(staged.Commit().status());
  OXIDE_RETURN_IF_ERROR(store_.golden().Put(rec));
  return rec;
}

Result<std::optional<store::GoldenRecord>> ModelService::GetGolden(const std::string& model_id,
                                                                   const std::string& version) {
  OXIDE_RETURN_IF_ERROR(GetVersion(model_id, version).status());
  return store_.golden().Get(model_id, version);
}

Status ModelService::DeleteGolden(const std::string& model_id, const std::string& version) {
  OXIDE_RETURN_IF_ERROR(GetVersion(model_id, version).status());
  return store_.golden().Delete(model_id, version);  // the blob goes with the next GC
}

}  // namespace oxide::server
