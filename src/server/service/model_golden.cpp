// Golden checks of model versions (issue #11): the golden file (inference/golden.hpp) is a blob
// like the model, recorded per version in the store's golden table.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "base/file_util.hpp"
#include "inference/golden.hpp"
#include "server/service/ids.hpp"
#include "server/service/model_service.hpp"
#include "tensor/model_signature.hpp"

namespace oxide::server {
namespace {

std::string Shape(const std::vector<int64_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) out += (i ? "," : "") + std::to_string(dims[i]);
  return out + "]";
}

// Why `t` cannot feed (or be compared with) `want` of the model's signature; "" when it fits.
// Symbolic dims take any size; a signature without a shape takes any rank.
std::string Mismatch(const std::string& kind, const inference::NamedTensor& t,
                     const tensor::ValueInfo& want) {
  const std::string what = kind + " '" + t.name + "'";
  if (want.dtype != tensor::DType::kUnknown && t.dtype != want.dtype) {
    return what + " is " + std::string(tensor::ToString(t.dtype)) + ", the model's is " +
           std::string(tensor::ToString(want.dtype));
  }
  if (!want.has_shape) return "";
  bool fits = t.dims.size() == want.dims.size();
  for (size_t i = 0; fits && i < t.dims.size(); ++i) {
    fits = want.dims[i].size < 0 || want.dims[i].size == t.dims[i];
  }
  if (fits) return "";
  std::string sig = "[";
  for (size_t i = 0; i < want.dims.size(); ++i) {
    if (i) sig += ",";
    const tensor::Dim& d = want.dims[i];
    sig += d.size >= 0 ? std::to_string(d.size) : (d.symbol.empty() ? "?" : d.symbol);
  }
  return what + " has shape " + Shape(t.dims) + ", the model's is " + sig + "]";
}

const tensor::ValueInfo* Find(const std::vector<tensor::ValueInfo>& list, const std::string& n) {
  for (const auto& v : list) {
    if (v.name == n) return &v;
  }
  return nullptr;
}

// The golden file against the version's signature: every model input given with a fitting
// dtype and shape, and only outputs the model has, likewise.
std::string CheckAgainstSignature(const inference::Golden& g, const tensor::ModelSignature& sig) {
  for (const auto& in : sig.inputs) {
    bool given = false;
    for (const auto& t : g.inputs.tensors) given = given || t.name == in.name;
    if (!given) return "golden input '" + in.name + "' is missing (the model has that input)";
  }
  for (const auto& t : g.inputs.tensors) {
    const tensor::ValueInfo* want = Find(sig.inputs, t.name);
    if (want == nullptr) return "golden input '" + t.name + "' is not an input of the model";
    if (std::string why = Mismatch("golden input", t, *want); !why.empty()) return why;
  }
  for (const auto& t : g.outputs.tensors) {
    const tensor::ValueInfo* want = Find(sig.outputs, t.name);
    if (want == nullptr) return "golden output '" + t.name + "' is not an output of the model";
    if (std::string why = Mismatch("golden output", t, *want); !why.empty()) return why;
  }
  return "";
}

// A NaN or infinity in an expected output never compares equal within a tolerance: every
// device would fail the check. Half floats are tested on their exponent bits.
bool HasNonFinite(const inference::NamedTensor& t) {
  const std::string& d = t.data;
  switch (t.dtype) {
    case tensor::DType::kF32:
      for (size_t i = 0; i + 4 <= d.size(); i += 4) {
        float v;
        std::memcpy(&v, d.data() + i, 4);
        if (!std::isfinite(v)) return true;
      }
      return false;
    case tensor::DType::kF64:
      for (size_t i = 0; i + 8 <= d.size(); i += 8) {
        double v;
        std::memcpy(&v, d.data() + i, 8);
        if (!std::isfinite(v)) return true;
      }
      return false;
    case tensor::DType::kF16:
    case tensor::DType::kBF16: {
      const uint16_t exp_mask = t.dtype == tensor::DType::kF16 ? 0x7c00 : 0x7f80;
      for (size_t i = 0; i + 2 <= d.size(); i += 2) {
        const uint16_t v = static_cast<uint16_t>(static_cast<uint8_t>(d[i]) |
                                                 (static_cast<uint8_t>(d[i + 1]) << 8));
        if ((v & exp_mask) == exp_mask) return true;
      }
      return false;
    }
    default:
      return false;
  }
}

}  // namespace

Result<store::GoldenRecord> ModelService::PutGolden(const std::string& model_id,
                                                    const std::string& version,
                                                    BlobWriter& staged) {
  OXIDE_ASSIGN_OR_RETURN(auto target, GetVersion(model_id, version));  // kNotFound: 404
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
  for (const auto& t : golden->outputs.tensors) {
    if (HasNonFinite(t)) {
      return InvalidArgument("golden output '" + t.name +
                             "' holds NaN or infinity: no device output can match it");
    }
  }
  if (!target.signature.empty()) {
    auto sig = tensor::DecodeSignature(target.signature);
    if (!sig.ok()) {
      // Unreadable stored signature: nothing to compare with, as for versions without one.
      std::fprintf(stderr, "oxide serve: warning: signature of %s@%s does not decode (%s)\n",
                   model_id.c_str(), version.c_str(), sig.status().ToString().c_str());
    } else if (std::string why = CheckAgainstSignature(*golden, *sig); !why.empty()) {
      return InvalidArgument(why + " (version '" + version + "' signature)");
    }
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
