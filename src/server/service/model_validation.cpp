// The only file that includes libonnx: its headers (generated protobuf code) are heavy and its
// checker throws, so both stay behind this one function.
#include "server/service/model_validation.hpp"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <exception>
#include <string>
#include <unordered_set>

namespace oxide::server {
namespace {

// The checker looks for the files of external tensors (relative to the working directory for a
// model held in memory), and those files are never part of an upload. An external initializer
// of the main graph becomes a graph input of its declared type and shape instead: checked and
// shape-inferred like an input whose values are unknown, which is what it is here.
void DetachExternalInitializers(onnx::GraphProto* g) {
  std::unordered_set<std::string> inputs;
  for (const auto& in : g->input()) inputs.insert(in.name());
  auto* inits = g->mutable_initializer();
  for (int i = 0; i < inits->size();) {
    const onnx::TensorProto& t = inits->Get(i);
    if (t.data_location() != onnx::TensorProto::EXTERNAL) {
      ++i;
      continue;
    }
    if (inputs.insert(t.name()).second) {
      onnx::ValueInfoProto* in = g->add_input();
      in->set_name(t.name());
      auto* type = in->mutable_type()->mutable_tensor_type();
      type->set_elem_type(t.data_type());
      auto* shape = type->mutable_shape();
      for (int64_t d : t.dims()) shape->add_dim()->set_dim_value(d);
    }
    inits->DeleteSubrange(i, 1);
  }
}

}  // namespace

Status ValidateOnnxModel(std::string_view bytes, bool* skipped) {
  *skipped = bytes.size() > kMaxOnnxValidationBytes;
  if (*skipped) return Status::Ok();
  onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return InvalidArgument("invalid ONNX model: it does not parse as an onnx.ModelProto");
  }
  DetachExternalInitializers(model.mutable_graph());
  // libonnx reports problems by throwing (ValidationError, InferenceError, and std::exception
  // subclasses for what it did not expect): this is the edge where they become a Status.
  try {
    onnx::checker::check_model(model);
    const onnx::ShapeInferenceOptions options(/*check_type_val=*/true, /*strict_mode_val=*/1);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("invalid ONNX model: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace oxide::server
