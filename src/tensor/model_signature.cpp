#include "tensor/model_signature.hpp"

// Placeholder: the implementation lands with `oxide info` (issue #11).
namespace oxide::tensor {

Result<GraphSummary> SummariseModel(std::string_view, ModelFormat) {
  return Status(ErrorCode::kUnsupported, "model signatures are not implemented yet");
}

std::vector<std::string> DescribeSignatureChange(const ModelSignature& before,
                                                 const ModelSignature& after) {
  if (before == after) return {};
  return {"signature changed"};
}

std::string EncodeSignature(const ModelSignature&) { return "{}"; }

Result<ModelSignature> DecodeSignature(std::string_view) { return ModelSignature{}; }

}  // namespace oxide::tensor
