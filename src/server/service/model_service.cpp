#include "server/service/model_service.hpp"

#include <cstdio>

#include "base/file_util.hpp"
#include "server/service/ids.hpp"
#include "server/service/model_validation.hpp"
#include "server/service/tensor_index_codec.hpp"
#include "tensor/model_signature.hpp"

namespace oxide::server {
namespace {

bool IsHexDigest(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

Status ValidateModelIds(const std::string& model_id, const std::string& version) {
  OXIDE_RETURN_IF_ERROR(ValidateId("model id", model_id));
  return ValidateId("version", version);
}

// How `after` differs from the signature of the upload before it; "" when either has none
// (formats without a graph, versions stored before signatures were kept).
Result<std::string> SignatureChange(const std::string& before, const std::string& after) {
  if (before.empty() || after.empty()) return std::string();
  // `after` was just encoded; a stored `before` that does not decode (damaged, or written by
  // another version) must not block every later upload: nothing to compare, as with none.
  auto b = tensor::DecodeSignature(before);
  if (!b.ok()) {
    std::fprintf(stderr,
                 "oxide serve: warning: stored signature does not decode (%s): "
                 "signature change not checked\n",
                 b.status().ToString().c_str());
    return std::string();
  }
  OXIDE_ASSIGN_OR_RETURN(auto a, tensor::DecodeSignature(after));
  std::string out;
  for (const std::string& line : tensor::DescribeSignatureChange(*b, a)) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}

}  // namespace

std::string_view ToString(OnnxValidation v) {
  switch (v) {
    case OnnxValidation::kChecked:
      return "checked";
    case OnnxValidation::kSkipped:
      return "skipped";
    case OnnxValidation::kNone:
      break;
  }
  return "none";
}

void ModelService::Notify() {
  if (on_enqueue_) on_enqueue_();
}

Result<ModelService::IndexedUpload> ModelService::IndexUpload(const std::string& model_id,
                                                              const std::string& path) {
  // DetectFormat may look past the first bytes (ONNX field walk): map the whole file (lazy).
  OXIDE_ASSIGN_OR_RETURN(auto mapped, MappedFile::Open(path));
  const std::string_view bytes = mapped->view();
  tensor::ModelFormat format = tensor::DetectFormat(bytes);
  if (format == tensor::ModelFormat::kUnknown) format = tensor::ClaimedFormat(bytes);
  std::string why = "its first bytes announce ";
  if (format == tensor::ModelFormat::kUnknown) {
    // ONNX has no magic: a model whose earlier versions were ONNX or SafeTensors is expected
    // to stay so, and a cut-off copy must not slip through as "unknown".
    OXIDE_ASSIGN_OR_RETURN(auto earlier, store_.models().ListVersions(model_id));
    for (auto it = earlier.rbegin(); it != earlier.rend(); ++it) {
      for (auto f : {tensor::ModelFormat::kOnnx, tensor::ModelFormat::kSafeTensors}) {
        if (it->format == tensor::ToString(f)) {
          format = f;
          why = "version '" + it->version + "' of this model is ";
        }
      }
      if (format != tensor::ModelFormat::kUnknown) break;
    }
  }
  auto index = tensor::IndexModel(bytes, format);
  if (!index.ok()) {
    const std::string name(tensor::ToString(format));
    return InvalidArgument("the upload does not parse as " + name + " (" + why + name +
                           "): " + index.status().ToString());
  }
  IndexedUpload out{std::move(index).value(), ""};
  if (format != tensor::ModelFormat::kOnnx) return out;
  auto summary = tensor::SummariseModel(bytes, format);
  if (!summary.ok()) {
    return InvalidArgument("the upload's ONNX graph does not parse: " +
                           summary.status().ToString());
  }
  bool skipped = bytes.size() > onnx_validation_limit_;
  if (!skipped) OXIDE_RETURN_IF_ERROR(ValidateOnnxModel(bytes, &skipped));
  out.validation = skipped ? OnnxValidation::kSkipped : OnnxValidation::kChecked;
  out.signature = tensor::EncodeSignature(summary->signature);
  return out;
}

Result<UploadResult> ModelService::Upload(const std::string& model_id, const std::string& version,
                                          BlobWriter& staged) {
  OXIDE_RETURN_IF_ERROR(ValidateModelIds(model_id, version));
  if (staged.size() == 0) return InvalidArgument("the model body is empty");
  OXIDE_ASSIGN_OR_RETURN(BlobInfo blob, staged.Seal());
  auto conflict = [&](const store::ModelVersionRecord& existing) {
    return AlreadyExists("model '" + model_id + "' version '" + version +
                         "' already exists with sha256 " + existing.sha256 +
                         "; upload a new version instead");
  };
  // Refusals come before the blob is published, so a refused upload leaves nothing behind.
  auto existing = store_.models().Get(model_id, version);
  if (existing.ok()) {
    if (existing->sha256 != blob.sha256) return conflict(*existing);
    // A corrupt or missing blob is repaired by the commit; patches from or to it were built
    // from bad bytes (or failed for want of them) and are rebuilt.
    const bool repairing = !blobs_.Verify(blob.sha256).ok();
    OXIDE_RETURN_IF_ERROR(staged.Commit().status());
    if (repairing) {
      bool requeued = false;
      Status tx = store_.InTransaction([&]() -> Status {
        OXIDE_ASSIGN_OR_RETURN(auto jobs, PatchesFromOrTo(blob.sha256));
        for (auto& p : jobs) {
          OXIDE_RETURN_IF_ERROR(ResetPatch(p, store::PatchState::kPending,
                                           "version uploaded again after repair: rebuilding"));
          requeued = true;
        }
        return Status::Ok();
      });
      OXIDE_RETURN_IF_ERROR(tx);
      if (requeued) Notify();
    }
    return UploadResult{std::move(existing).value(), /*created=*/false};
  }
  if (existing.status().code() != ErrorCode::kNotFound) return existing.status();
  OXIDE_ASSIGN_OR_RETURN(IndexedUpload indexed, IndexUpload(model_id, staged.temp_path()));
  const tensor::TensorIndex& index = indexed.index;

  store::ModelVersionRecord rec;
  rec.model_id = model_id;
  rec.version = version;
  rec.sha256 = blob.sha256;
  rec.size_bytes = blob.size;
  rec.format = std::string(tensor::ToString(index.format));
  rec.uploaded_at = clock_.UnixMillis();
  rec.signature = std::move(indexed.signature);
  store::TensorIndexRecord index_rec{blob.sha256, rec.format, index.tensors.size(),
                                     EncodeTensorIndex(index)};
  OXIDE_RETURN_IF_ERROR(staged.Commit().status());

  bool queued = false;
  UploadResult out;
  out.validation = indexed.validation;
  if (Status tx = store_.InTransaction([&]() -> Status {
        auto again = store_.models().Get(model_id, version);  // a concurrent upload won
        if (again.ok()) {
          if (again->sha256 != rec.sha256) return conflict(*again);
          out.version = std::move(again).value();
          out.created = false;
          return Status::Ok();
        }
        if (again.status().code() != ErrorCode::kNotFound) return again.status();
        OXIDE_ASSIGN_OR_RETURN(auto before, store_.models().ListVersions(model_id));
        // Compared with the version it replaces: the latest upload (highest seq) before it.
        if (!before.empty()) {
          OXIDE_ASSIGN_OR_RETURN(rec.signature_change,
                                 SignatureChange(before.back().signature, rec.signature));
        }
        OXIDE_ASSIGN_OR_RETURN(out.version, store_.models().Put(rec));
        OXIDE_RETURN_IF_ERROR(store_.models().PutIndex(index_rec));
        // From nothing first (the compressed download of a device without a usable base),
        // then the previous upload (the usual base) and every version devices report running.
        // One worker builds in queue order: once the patch from the previous upload is ready,
        // the first-install one is too.
        std::vector<std::string> bases;
        if (first_install_patches_) bases.emplace_back(protocol::kEmptySha256);
        for (auto it = before.rbegin(); it != before.rend(); ++it) {
          if (it->sha256 != rec.sha256) {
            bases.push_back(it->sha256);
            break;
          }
        }
        OXIDE_ASSIGN_OR_RETURN(auto running, store_.devices().CurrentShasOfModel(model_id));
        bases.insert(bases.end(), running.begin(), running.end());
        for (const auto& b : bases) {
          OXIDE_ASSIGN_OR_RETURN(bool q, EnqueueLocked(b, rec.sha256));
          queued = queued || q;
        }
        return Status::Ok();
      });
      !tx.ok())
    return tx;  // a published blob nothing references is removed by the next GC
  if (queued) Notify();
  return out;
}

Result<store::ModelVersionRecord> ModelService::GetVersion(const std::string& model_id,
                                                           const std::string& version) {
  OXIDE_RETURN_IF_ERROR(ValidateModelIds(model_id, version));
  return store_.models().Get(model_id, version);
}

Result<std::vector<store::ModelVersionRecord>> ModelService::ListVersions(
    const std::string& model_id) {
  OXIDE_RETURN_IF_ERROR(ValidateId("model id", model_id));
  OXIDE_ASSIGN_OR_RETURN(auto list, store_.models().ListVersions(model_id));
  if (list.empty()) return NotFound("model '" + model_id + "' not found");
  return list;
}

Result<std::vector<std::string>> ModelService::ListModels() {
  return store_.models().ListModelIds();
}

Result<ModelMeta> ModelService::Meta(const std::string& model_id, const std::string& version) {
  ModelMeta m;
  OXIDE_ASSIGN_OR_RETURN(m.version, GetVersion(model_id, version));
  m.blob_present = blobs_.Exists(m.version.sha256);
  // Computed once at upload; versions stored before that are indexed here once and kept.
  auto stored = store_.models().GetIndex(m.version.sha256);
  if (stored.ok()) {
    auto decoded = DecodeTensorIndex(stored->data);
    if (decoded.ok()) m.tensors = std::move(decoded).value();
  } else if (stored.status().code() != ErrorCode::kNotFound) {
    return stored.status();
  }
  if (!m.tensors && m.blob_present) {
    OXIDE_ASSIGN_OR_RETURN(auto mapped, MappedFile::Open(blobs_.PathFor(m.version.sha256)));
    auto format = tensor::DetectFormat(mapped->view());
    auto index = tensor::IndexModel(mapped->view(), format);
    if (index.ok()) {
      Status put = store_.models().PutIndex({m.version.sha256, std::string(ToString(format)),
                                             index->tensors.size(), EncodeTensorIndex(*index)});
      if (!put.ok()) return put;
      m.tensors = std::move(index).value();
    } else {
      m.tensor_error = index.status().ToString();
    }
  } else if (!m.tensors) {
    m.tensor_error = "the model's blob is missing (found corrupt): upload the version again";
  }
  OXIDE_ASSIGN_OR_RETURN(auto patches, store_.patches().ListForTarget(m.version.sha256));
  for (auto& p : patches) {
    PatchView v;
    auto base = store_.models().FindBySha(p.base_sha256);
    if (base.ok()) v.base_version = base->version;
    v.patch = std::move(p);
    m.patches.push_back(std::move(v));
  }
  return m;
}

Result<uint8_t> ModelService::PatchFormatVersion(const std::string& patch_sha256) {
  {
    std::lock_guard<std::mutex> lock(versions_mu_);
    auto it = patch_versions_.find(patch_sha256);
    if (it != patch_versions_.end()) return it->second;
  }
  OXIDE_ASSIGN_OR_RETURN(auto file, ReadableFile::Open(blobs_.PathFor(patch_sha256)));
  char head[5] = {};
  OXIDE_ASSIGN_OR_RETURN(size_t n, file->ReadAt(0, head, sizeof(head)));
  if (n != sizeof(head) || std::string_view(head, 4) != "OXDL") {
    return Corrupt("patch blob " + patch_sha256 + " does not start with an OXDL header");
  }
  const auto version = static_cast<uint8_t>(head[4]);
  std::lock_guard<std::mutex> lock(versions_mu_);
  patch_versions_.emplace(patch_sha256, version);
  return version;
}

Result<std::optional<store::PatchRecord>> ModelService::ServablePatch(
    const std::string& base_sha, const store::ModelVersionRecord& target,
    const protocol::PatchVersions& versions) {
  OXIDE_ASSIGN_OR_RETURN(store::PatchRecord patch, store_.patches().Get(base_sha, target.sha256));
  if (patch.state != store::PatchState::kReady || patch.patch_size >= target.size_bytes ||
      !blobs_.Exists(patch.patch_sha256)) {
    return std::optional<store::PatchRecord>();
  }
  auto version = PatchFormatVersion(patch.patch_sha256);
  if (!version.ok()) {
    // Removed meanwhile, or not a patch at all: the full file is always right.
    return std::optional<store::PatchRecord>();
  }
  if (!versions.Accepts(*version)) return std::optional<store::PatchRecord>();
  return std::optional<store::PatchRecord>(std::move(patch));
}

Result<DownloadPlan> ModelService::PlanDownload(const std::string& model_id,
                                                const std::string& version,
                                                const std::string& base_sha256_hex,
                                                const std::string& base_version,
                                                std::string_view patch_versions) {
  DownloadPlan plan;
  OXIDE_ASSIGN_OR_RETURN(plan.target, GetVersion(model_id, version));
  if (!blobs_.Exists(plan.target.sha256)) {
    return Unavailable("the blob of model '" + model_id + "' version '" + version +
                       "' is missing (it was found corrupt and removed): upload it again");
  }
  plan.blob_sha256 = plan.target.sha256;
  plan.blob_size = plan.target.size_bytes;
  plan.blob_path = blobs_.PathFor(plan.target.sha256);

  std::string base_sha = Lower(base_sha256_hex);
  if (!base_sha.empty() && !IsHexDigest(base_sha)) {
    return Corrupt("X-Oxide-Base-SHA256 must be 64 hex characters");
  }
  OXIDE_ASSIGN_OR_RETURN(protocol::PatchVersions versions,
                         protocol::ParsePatchVersions(patch_versions));
  if (base_sha == plan.target.sha256) return plan;
  std::optional<store::PatchRecord> patch;
  if (base_sha.empty()) {
    // A label alone is not trusted to pick a patch, but it predicts what will be asked next.
    if (!base_version.empty() && IsValidId(base_version)) {
      auto base = store_.models().Get(model_id, base_version);
      if (base.ok()) OXIDE_RETURN_IF_ERROR(EnsurePatch(base->sha256, plan.target.sha256).status());
    }
  } else {
    auto exact = ServablePatch(base_sha, plan.target, versions);
    if (exact.status().code() == ErrorCode::kNotFound) {
      // Served otherwise meanwhile; the patch is ready for the next device.
      OXIDE_RETURN_IF_ERROR(EnsurePatch(base_sha, plan.target.sha256).status());
    } else {
      OXIDE_RETURN_IF_ERROR(exact.status());
      patch = std::move(exact).value();
    }
  }
  if (!patch && versions.declared && first_install_patches_) {
    // No base to diff against (first install) or no patch from it: the target compressed
    // against nothing still beats the raw file. Only clients that declared their versions
    // apply it: older agents and plain downloads expect the model file.
    const std::string empty(protocol::kEmptySha256);
    auto from_empty = ServablePatch(empty, plan.target, versions);
    if (from_empty.status().code() == ErrorCode::kNotFound) {
      OXIDE_RETURN_IF_ERROR(EnsurePatch(empty, plan.target.sha256).status());  // uploaded earlier
    } else {
      OXIDE_RETURN_IF_ERROR(from_empty.status());
      patch = std::move(from_empty).value();
    }
  }
  if (!patch) return plan;
  plan.is_patch = true;
  plan.blob_sha256 = patch->patch_sha256;
  plan.blob_size = patch->patch_size;
  plan.blob_path = blobs_.PathFor(patch->patch_sha256);
  plan.base_sha256 = patch->base_sha256;
  plan.strategy = patch->strategy;
  if (plan.base_sha256 != base_sha) return plan;  // from the empty base: no base version
  plan.base_version = base_version;
  if (plan.base_version.empty()) {
    auto base = store_.models().FindBySha(base_sha);
    if (base.ok()) plan.base_version = base->version;
  }
  return plan;
}

Result<bool> ModelService::EnqueueLocked(const std::string& base_sha,
                                         const std::string& target_sha) {
  if (base_sha == target_sha) return false;
  if (base_sha == protocol::kEmptySha256) {
    if (!first_install_patches_) return false;
  } else if (!blobs_.Exists(base_sha)) {
    return false;
  }
  return store_.patches().Enqueue(base_sha, target_sha, clock_.UnixMillis());
}

Result<bool> ModelService::EnsurePatch(const std::string& base_sha, const std::string& target_sha) {
  OXIDE_ASSIGN_OR_RETURN(bool queued, EnqueueLocked(base_sha, target_sha));
  if (queued) Notify();
  return queued;
}

Status ModelService::RecordDownload(const std::string& device_id, const std::string& model_id,
                                    const std::string& version, uint64_t served, uint64_t full) {
  if (served == 0 && full == 0) return Status::Ok();
  return store_.InTransaction([&]() -> Status {
    // The hourly series counts every download (an operator's too), as GET /metrics does.
    OXIDE_RETURN_IF_ERROR(store_.stats().AddBandwidth(clock_.UnixMillis(), served, full));
    if (!IsValidId(device_id)) return Status::Ok();
    Status st = store_.devices().AddBytes(device_id, served, full);
    if (st.code() == ErrorCode::kNotFound) return Status::Ok();
    OXIDE_RETURN_IF_ERROR(st);
    OXIDE_ASSIGN_OR_RETURN(auto a, store_.assignments().Get(device_id));
    if (!a || a->model_id != model_id || a->version != version) return Status::Ok();
    return store_.campaigns().AddBytes(a->campaign_id, device_id, served, full);
  });
}

Result<std::vector<store::PatchRecord>> ModelService::PatchesFromOrTo(const std::string& sha256) {
  OXIDE_ASSIGN_OR_RETURN(auto out, store_.patches().ListForTarget(sha256));
  // Targets are versions: the jobs from `sha256` are among theirs.
  OXIDE_ASSIGN_OR_RETURN(auto targets, store_.models().ListBlobShas());
  for (const auto& t : targets) {
    if (t == sha256) continue;
    OXIDE_ASSIGN_OR_RETURN(auto jobs, store_.patches().ListForTarget(t));
    for (auto& p : jobs) {
      if (p.base_sha256 == sha256) out.push_back(std::move(p));
    }
  }
  return out;
}

Status ModelService::ResetPatch(store::PatchRecord& p, store::PatchState state, std::string why) {
  p.state = state;
  p.patch_sha256.clear();
  p.patch_size = 0;
  p.attempts = 0;
  p.not_before = 0;
  p.error = std::move(why);
  p.updated_at = clock_.UnixMillis();
  OXIDE_RETURN_IF_ERROR(store_.patches().Update(p));
  // A replica building the job (from the bad bytes) loses its lease: its result is refused
  // (PatchStore::UpdateLeased), and the job is claimed afresh.
  if (!p.lease_owner.empty()) {
    OXIDE_RETURN_IF_ERROR(
        store_.patches().ReleaseLease(p.base_sha256, p.target_sha256, p.lease_owner));
    p.lease_owner.clear();
    p.lease_until = 0;
  }
  return Status::Ok();
}

Result<bool> ModelService::RepairCorruptBlob(const std::string& sha256) {
  OXIDE_ASSIGN_OR_RETURN(bool removed, blobs_.RemoveIfCorrupt(sha256));
  if (!removed) return false;
  bool requeued = false;
  Status tx = store_.InTransaction([&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(auto patches, store_.patches().ListWithBlob());
    for (auto& p : patches) {
      if (p.patch_sha256 != sha256) continue;
      // Rebuilt from the (intact) base and target.
      OXIDE_RETURN_IF_ERROR(
          ResetPatch(p, store::PatchState::kPending, "patch blob was corrupt: rebuilding"));
      requeued = true;
    }
    // Patches from or to the removed version were built from its corrupt bytes: never served
    // again; rebuilt when the version is uploaded again (Upload).
    OXIDE_ASSIGN_OR_RETURN(auto built_from, PatchesFromOrTo(sha256));
    for (auto& p : built_from) {
      OXIDE_RETURN_IF_ERROR(ResetPatch(
          p, store::PatchState::kFailed,
          std::string(p.base_sha256 == sha256 ? "base" : "target") +
              " blob was corrupt and removed: rebuilt when that version is uploaded again"));
    }
    return Status::Ok();
  });
  OXIDE_RETURN_IF_ERROR(tx);
  if (requeued) Notify();
  return true;
}

Result<GcReport> ModelService::CollectGarbage(Clock::Duration grace) {
  return blobs_.CollectGarbage(
      [this]() -> Result<std::unordered_set<std::string>> {
        std::unordered_set<std::string> refs;
        Status tx = store_.InTransaction([&]() -> Status {
          OXIDE_ASSIGN_OR_RETURN(auto shas, store_.models().ListBlobShas());
          refs.insert(shas.begin(), shas.end());
          OXIDE_ASSIGN_OR_RETURN(auto golden, store_.golden().ListBlobShas());
          refs.insert(golden.begin(), golden.end());
          OXIDE_ASSIGN_OR_RETURN(auto patches, store_.patches().ListWithBlob());
          for (const auto& p : patches) refs.insert(p.patch_sha256);
          return Status::Ok();
        });
        if (!tx.ok()) return tx;
        return refs;
      },
      grace);
}

Result<uint64_t> ModelService::Scrub(const std::function<bool()>& stop) {
  OXIDE_ASSIGN_OR_RETURN(auto names, blobs_.List());
  uint64_t corrupt = 0;
  for (const auto& n : names) {
    if (stop && stop()) break;
    OXIDE_ASSIGN_OR_RETURN(bool was_corrupt, RepairCorruptBlob(n));
    corrupt += was_corrupt ? 1 : 0;
  }
  return corrupt;
}

}  // namespace oxide::server
