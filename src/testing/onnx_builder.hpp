#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor/tensor_index.hpp"  // DType only (header-only use; no link dependency)

// Builds small ONNX models in code, hand-encoding the protobuf wire format, so tests need neither
// libprotobuf nor model files. Example:
//
//   OnnxBuilder b;
//   b.AddInitializer("w1", DType::kF32, {4, 4}, RandomNormalF32(16, /*seed=*/1));
//   b.AddConstantNode("c0", "c0_out", DType::kI64, {2}, I64Bytes({1, 2}));
//   OnnxGraph then_branch("then");
//   then_branch.AddConstantNode("k", "k_out", DType::kF32, {1}, F32Bytes({1.f}));
//   b.AddIfNode("if0", then_branch, OnnxGraph("else"));
//   std::string model = b.Build();
namespace oxide::testing {

// Appends protobuf fields to a buffer. Enough for hand-building messages, including malformed
// ones (Raw lets a test append any bytes).
class ProtoWriter {
 public:
  ProtoWriter& Varint(uint32_t field, uint64_t v);
  ProtoWriter& Fixed32(uint32_t field, uint32_t v);
  ProtoWriter& Fixed64(uint32_t field, uint64_t v);
  ProtoWriter& Bytes(uint32_t field, std::string_view bytes);
  ProtoWriter& Message(uint32_t field, const ProtoWriter& m) { return Bytes(field, m.str()); }
  ProtoWriter& PackedVarints(uint32_t field, const std::vector<int64_t>& values);
  ProtoWriter& Raw(std::string_view bytes);
  const std::string& str() const { return buf_; }

 private:
  std::string buf_;
};

// ONNX TensorProto.DataType for a DType (0 = UNDEFINED for kUnknown).
int OnnxDataType(tensor::DType dtype);

// One TensorProto with a chosen data encoding.
struct OnnxTensor {
  enum class Data {
    kRaw,                // raw_data = `raw`
    kFloatData,          // packed float_data from `reals`
    kDoubleData,         // packed double_data from `reals`
    kInt32Data,          // packed int32_data from `ints`
    kInt64Data,          // packed int64_data from `ints`
    kUint64Data,         // packed uint64_data from `ints`
    kFloatDataUnpacked,  // one fixed32 float_data field per value (legal, not indexed)
    kExternal,           // data_location = EXTERNAL, external_data location = `location`
    kNone,               // no data fields at all
  };
  std::string name;
  tensor::DType dtype = tensor::DType::kF32;
  std::vector<int64_t> dims;
  Data data = Data::kRaw;
  std::string raw;
  std::vector<double> reals;
  std::vector<int64_t> ints;
  std::string location;

  std::string Encode() const;  // TensorProto bytes
};

// AttributeProto / NodeProto helpers for hand-built nodes (see OnnxGraph::AddNode).
std::string TensorAttr(std::string_view name, const OnnxTensor& t);
std::string GraphAttr(std::string_view name, std::string_view graph_proto);
std::string NodeProto(std::string_view name, std::string_view op_type,
                      const std::vector<std::string>& inputs,
                      const std::vector<std::string>& outputs,
                      const std::vector<std::string>& attributes);

// A ValueInfoProto of a tensor for graph inputs/outputs. Each dim: decimal digits give a
// dim_value, "?" an empty Dimension (unknown), anything else a dim_param (symbolic).
std::string ValueInfoProto(std::string_view name, tensor::DType dtype,
                           const std::vector<std::string>& dims);

// A GraphProto. Fields are encoded in insertion order within each kind.
class OnnxGraph {
 public:
  explicit OnnxGraph(std::string name = "main_graph") : name_(std::move(name)) {}

  // Initializer with raw_data (the common encoding of exported models).
  OnnxGraph& AddInitializer(std::string name, tensor::DType dtype, std::vector<int64_t> dims,
                            std::string_view raw);
  // Initializer with any encoding (packed typed fields, external data, ...).
  OnnxGraph& AddTensorInitializer(const OnnxTensor& t);
  // sparse_initializer: values (named) + int64 indices.
  OnnxGraph& AddSparseInitializer(const OnnxTensor& values, const OnnxTensor& indices);
  // Constant node whose "value" attribute holds an unnamed raw_data tensor.
  OnnxGraph& AddConstantNode(std::string node_name, std::string output, tensor::DType dtype,
                             std::vector<int64_t> dims, std::string_view raw);
  // If node with then_branch / else_branch subgraphs; Loop node with a body subgraph.
  OnnxGraph& AddIfNode(std::string node_name, const OnnxGraph& then_branch,
                       const OnnxGraph& else_branch);
  OnnxGraph& AddLoopNode(std::string node_name, const OnnxGraph& body);
  // Any NodeProto bytes (see NodeProto()).
  OnnxGraph& AddNode(std::string node_proto);
  // Replace the default graph input "x" / output "y" (float, shape [1]) with ValueInfoProtos.
  OnnxGraph& SetInputs(std::vector<std::string> value_infos);
  OnnxGraph& SetOutputs(std::vector<std::string> value_infos);
  // Bytes appended verbatim at the end of the GraphProto (unknown fields, corruption).
  OnnxGraph& AddRawBytes(std::string_view bytes);

  std::string Encode() const;  // GraphProto bytes
  const std::vector<std::string>& nodes() const { return nodes_; }

 private:
  std::string name_;
  std::vector<std::string> nodes_;
  std::vector<std::string> initializers_;
  std::vector<std::string> sparse_initializers_;
  std::vector<std::string> inputs_, outputs_;  // empty: the default "x" / "y"
  std::string raw_;
};

// A ModelProto around a main graph (this object's OnnxGraph part).
class OnnxBuilder : public OnnxGraph {
 public:
  OnnxBuilder() = default;

  // FunctionProto (domain "local") whose nodes are `body`'s nodes.
  OnnxBuilder& AddFunction(std::string name, const OnnxGraph& body);
  OnnxBuilder& AddMetadata(std::string key, std::string value);
  // Bytes appended verbatim at the end of the ModelProto (unknown fields).
  OnnxBuilder& AddRawModelBytes(std::string_view bytes);

  std::string Build() const;  // ModelProto bytes, ir_version first (as every exporter writes)

 private:
  std::vector<std::string> functions_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::string raw_model_;
};

// --- Deterministic tensor data for tests (same bytes on every platform and run) ---

// Little-endian bytes of floats / int64s.
std::string F32Bytes(const std::vector<float>& values);
std::string I64Bytes(const std::vector<int64_t>& values);
std::vector<float> FromF32Bytes(std::string_view bytes);
// `count` float32 values distributed approximately N(0, stddev^2) (Irwin-Hall sum of 12
// uniforms from splitmix64), like freshly initialised weights.
std::string RandomNormalF32(size_t count, uint64_t seed, float stddev = 0.02f);
// A "fine-tuned" copy of float32 bytes: a `fraction` of the elements, chosen by `seed`, are
// scaled by (1 + u * relative) with u uniform in [-1, 1]. Sizes never change.
std::string FineTuneF32(std::string_view f32_bytes, uint64_t seed, float relative = 1e-3f,
                        double fraction = 1.0);

// A small but representative model touching every place ONNX keeps tensors: raw_data, packed
// float_data and int64_data initializers, a Constant node, a sparse initializer, If/Loop
// subgraphs two levels deep, an external tensor and a local function; about 3 KiB. With
// `finetune_seed` != 0 every float weight is perturbed by FineTuneF32 (same layout, new values),
// which gives base/target pairs for delta round trips.
std::string SampleOnnxModel(uint64_t seed = 1, uint64_t finetune_seed = 0);

// A model the official ONNX checker and shape inference accept (SampleOnnxModel is not: its
// If/Loop nodes read undefined values): y = Add(x, w), x and y float [1, weights], w an
// initializer of `weights` floats drawn from `seed`. For server upload tests.
std::string CheckerValidOnnxModel(size_t weights = 1024, uint64_t seed = 1);

}  // namespace oxide::testing
