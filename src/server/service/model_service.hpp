#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "protocol/patch_versions.hpp"
#include "server/service/blob_store.hpp"
#include "server/service/model_validation.hpp"
#include "store/store.hpp"
#include "tensor/tensor_index.hpp"

namespace oxide::server {

struct PatchView {
  store::PatchRecord patch;
  std::string base_version;  // a version whose blob is the base, "" when unknown
};

struct ModelMeta {
  store::ModelVersionRecord version;
  std::optional<tensor::TensorIndex> tensors;  // absent when indexing failed
  std::string tensor_error;
  bool blob_present = true;        // false: the blob was found corrupt and removed; upload it again
  std::vector<PatchView> patches;  // every patch job whose target is this version
};

// What GET .../download sends: a ready patch from the device's exact base, else a ready patch
// from the empty base (to a client that declared the patch versions it applies), else the full
// file.
struct DownloadPlan {
  store::ModelVersionRecord target;
  bool is_patch = false;
  std::string blob_sha256;  // the bytes to send (patch or target)
  uint64_t blob_size = 0;
  std::string blob_path;
  std::string base_sha256;   // patch only (protocol::kEmptySha256: rebuilt from nothing)
  std::string base_version;  // patch only: the label the device sent, or a known version
  std::string strategy;      // patch only
};

// What the upload's ONNX validation (libonnx checker and shape inference) did.
enum class OnnxValidation {
  kNone,     // not ONNX, or the version already existed: nothing was validated
  kChecked,  // validated and valid
  kSkipped,  // ONNX larger than the validation limit (2 GiB): accepted unchecked
};
std::string_view ToString(OnnxValidation v);  // "none", "checked", "skipped"

struct UploadResult {
  store::ModelVersionRecord version;
  bool created = true;  // false: the same bytes were already stored under this version
  OnnxValidation validation = OnnxValidation::kNone;
};

// Model versions, their blobs, patch scheduling and download accounting. Thread-safe.
// `store`, `blobs` and `clock` must outlive it.
class ModelService {
 public:
  ModelService(store::Store& store, const BlobStore& blobs, const Clock& clock)
      : store_(store), blobs_(blobs), clock_(clock) {}

  // Largest ONNX upload handed to libonnx (default kMaxOnnxValidationBytes; tests lower it to
  // see a skipped validation without a 2 GiB file). Set before serving.
  void SetOnnxValidationLimit(uint64_t bytes) { onnx_validation_limit_ = bytes; }

  // Whether uploads queue a patch from the empty base and downloads offer it (default on;
  // `oxide serve --first-install-patches false`: no extra build and blob per version, and every
  // client without a servable patch gets the full file). Set before serving.
  void SetFirstInstallPatches(bool on) { first_install_patches_ = on; }

  // Called (outside any lock) after a patch job was enqueued: wakes the worker.
  void SetPatchListener(std::function<void()> f) { on_enqueue_ = std::move(f); }

  // Checks the staged upload, commits it into the blob store, records the version with its
  // tensor index and schedules patches to it from the previous upload and from what devices
  // run. A version is immutable: uploading it again with identical bytes changes nothing
  // (created = false) except repairing its blob if that was corrupt or missing; other bytes are
  // kAlreadyExists (campaigns may be rolling it out by hash). A file that claims a known format
  // (tensor::ClaimedFormat, or an earlier version of the model had one) and does not index is
  // kInvalidArgument (422), and so is an ONNX model the ONNX checker or shape inference refuses.
  // The version's signature is stored with how it differs from the previous upload of the model
  // (ModelVersionRecord::signature_change). Nothing is published when the upload is refused.
  Result<UploadResult> Upload(const std::string& model_id, const std::string& version,
                              BlobWriter& staged);
  Result<store::ModelVersionRecord> GetVersion(const std::string& model_id,
                                               const std::string& version);
  // kNotFound when the model has no versions.
  Result<std::vector<store::ModelVersionRecord>> ListVersions(const std::string& model_id);
  Result<std::vector<std::string>> ListModels();
  Result<ModelMeta> Meta(const std::string& model_id, const std::string& version);

  // base_sha256_hex: X-Oxide-Base-SHA256 (decides); base_version: X-Oxide-Base-Version (a label
  // alone is not trusted: it only schedules a patch); patch_versions: X-Oxide-Patch-Versions
  // ("" when absent = version 2 only). A patch is served only when its version byte is
  // accepted. Without a servable patch from the exact base, a client that declared its
  // versions gets the patch from the empty base when it is ready and smaller (queued on demand
  // if missing; never with SetFirstInstallPatches(false)); everyone else gets the full file, and
  // a patch from a known base is enqueued for next time. kCorrupt for a malformed hash or
  // versions header.
  Result<DownloadPlan> PlanDownload(const std::string& model_id, const std::string& version,
                                    const std::string& base_sha256_hex,
                                    const std::string& base_version,
                                    std::string_view patch_versions = {});

  // Enqueues base→target when base != target and the base blob is held (the empty base,
  // protocol::kEmptySha256, always is). Returns true if a new job was queued (then the
  // listener is called).
  Result<bool> EnsurePatch(const std::string& base_sha, const std::string& target_sha);

  // Adds bytes actually written for a download to the hourly bandwidth series (every download)
  // and to the device and, when the device's current assignment is this model version, to that
  // campaign, in one transaction. Unknown devices are ignored.
  Status RecordDownload(const std::string& device_id, const std::string& model_id,
                        const std::string& version, uint64_t served, uint64_t full);

  // Called when a blob was seen not to hash to its name (a full download, a scrub): verifies
  // it again and, if it is corrupt, removes it. A patch blob's jobs go back to pending (rebuilt
  // by the worker); a version's blob stays missing until the same bytes are uploaded again
  // (meta shows blob_present=false, downloads answer 503), and the patches from or to it (built
  // from its bad bytes) are failed until then; that upload queues them again. Returns true when
  // it was corrupt.
  Result<bool> RepairCorruptBlob(const std::string& sha256);
  // Removes blobs no version or patch references (see BlobStore::CollectGarbage).
  Result<GcReport> CollectGarbage(Clock::Duration grace);
  // Verifies every blob (RepairCorruptBlob); returns how many were corrupt. Reads everything:
  // run it off the request path. `stop` (optional) is asked before each blob: true ends the
  // scrub there (shutdown does not wait for a whole pass).
  Result<uint64_t> Scrub(const std::function<bool()>& stop = {});

  // ---- golden checks (issue #11; model_golden.cpp) ----
  static constexpr uint64_t kMaxGoldenBytes = uint64_t{64} << 20;
  // Checks the staged golden file (inference::ParseGolden; any refusal is kInvalidArgument with
  // its reason), commits it into the blob store and records it for the version, replacing an
  // earlier one. kNotFound for an unknown version; kResourceExhausted above kMaxGoldenBytes.
  Result<store::GoldenRecord> PutGolden(const std::string& model_id, const std::string& version,
                                        BlobWriter& staged);
  // nullopt when the version has no golden file; kNotFound for an unknown version.
  Result<std::optional<store::GoldenRecord>> GetGolden(const std::string& model_id,
                                                       const std::string& version);
  // kNotFound for an unknown version or when it has no golden file.
  Status DeleteGolden(const std::string& model_id, const std::string& version);

 private:
  Result<bool> EnqueueLocked(const std::string& base_sha, const std::string& target_sha);
  // The patch job base→target when it can be served to a client accepting `versions`: ready,
  // smaller than the target, blob present, header version accepted. nullopt otherwise
  // (kNotFound: no such job).
  Result<std::optional<store::PatchRecord>> ServablePatch(const std::string& base_sha,
                                                          const store::ModelVersionRecord& target,
                                                          const protocol::PatchVersions& versions);
  // Byte 4 of a patch blob's OXDL header (its format version); kCorrupt when the blob does not
  // start with the magic. Blobs are immutable: the answer is cached per blob name.
  Result<uint8_t> PatchFormatVersion(const std::string& patch_sha256);
  // Patch jobs whose base or target is `sha256` (inside a transaction).
  Result<std::vector<store::PatchRecord>> PatchesFromOrTo(const std::string& sha256);
  // Drops the job's patch blob and sets its state (pending: built again from attempt 1).
  Status ResetPatch(store::PatchRecord& p, store::PatchState state, std::string why);
  struct IndexedUpload {
    tensor::TensorIndex index;
    std::string signature;  // tensor::EncodeSignature JSON; "" for formats without a graph
    OnnxValidation validation = OnnxValidation::kNone;
  };
  // Indexes the staged bytes in the format they claim and reads their signature; an ONNX model
  // is also validated with libonnx (model_validation.hpp). kInvalidArgument when they do not
  // parse or are not valid.
  Result<IndexedUpload> IndexUpload(const std::string& model_id, const std::string& path);
  void Notify();

  store::Store& store_;
  const BlobStore& blobs_;
  const Clock& clock_;
  std::function<void()> on_enqueue_;
  uint64_t onnx_validation_limit_ = kMaxOnnxValidationBytes;
  bool first_install_patches_ = true;
  std::mutex versions_mu_;
  std::unordered_map<std::string, uint8_t> patch_versions_;  // by patch blob sha256
};

}  // namespace oxide::server
