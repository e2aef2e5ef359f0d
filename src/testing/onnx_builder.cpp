#include "testing/onnx_builder.hpp"

#include <cstring>
#include <iterator>

#include "base/coding.hpp"
#include "testing/split_mix.hpp"

namespace oxide::testing {
namespace {

using tensor::DType;

// onnx.proto field numbers, written out independently of the indexer so the tests check the
// indexer against the spec rather than against itself.
constexpr uint32_t kModelIrVersion = 1, kModelProducerName = 2, kModelGraph = 7,
                   kModelOpsetImport = 8, kModelMetadataProps = 14, kModelFunctions = 25;
constexpr uint32_t kGraphNode = 1, kGraphName = 2, kGraphInitializer = 5, kGraphInput = 11,
                   kGraphOutput = 12, kGraphSparseInitializer = 15;
constexpr uint32_t kNodeInput = 1, kNodeOutput = 2, kNodeName = 3, kNodeOpType = 4,
                   kNodeAttribute = 5;
constexpr uint32_t kAttrName = 1, kAttrT = 5, kAttrG = 6, kAttrType = 20;
constexpr uint32_t kAttrTypeTensor = 4, kAttrTypeGraph = 5;
constexpr uint32_t kTensorDims = 1, kTensorDataType = 2, kTensorFloatData = 4, kTensorInt32Data = 5,
                   kTensorInt64Data = 7, kTensorName = 8, kTensorRawData = 9,
                   kTensorDoubleData = 10, kTensorUint64Data = 11, kTensorExternalData = 13,
                   kTensorDataLocation = 14;
constexpr uint32_t kSparseValues = 1, kSparseIndices = 2, kSparseDims = 3;
constexpr uint32_t kFunctionName = 1, kFunctionInput = 4, kFunctionOutput = 5, kFunctionNode = 7,
                   kFunctionOpsetImport = 9, kFunctionDomain = 10;
constexpr uint32_t kEntryKey = 1, kEntryValue = 2;
constexpr uint32_t kOpsetDomain = 1, kOpsetVersion = 2;

uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

uint64_t DoubleBits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof(u));
  return u;
}

std::string Entry(std::string_view key, std::string_view value) {
  ProtoWriter e;
  e.Bytes(kEntryKey, key).Bytes(kEntryValue, value);
  return e.str();
}

// A float graph input/output ("x" of shape [1]); framing only, but makes models look real.
std::string ValueInfo(std::string_view name) {
  ProtoWriter dim, shape, tensor_type, type, info;
  dim.Varint(1, 1);                                // TensorShapeProto.Dimension.dim_value
  shape.Bytes(1, dim.str());                       // TensorShapeProto.dim
  tensor_type.Varint(1, 1).Bytes(2, shape.str());  // elem_type FLOAT, shape
  type.Bytes(1, tensor_type.str());                // TypeProto.tensor_type
  info.Bytes(1, name).Bytes(2, type.str());
  return info.str();
}

}  // namespace

ProtoWriter& ProtoWriter::Varint(uint32_t field, uint64_t v) {
  PutVarint64(&buf_, uint64_t{field} << 3);
  PutVarint64(&buf_, v);
  return *this;
}

ProtoWriter& ProtoWriter::Fixed32(uint32_t field, uint32_t v) {
  PutVarint64(&buf_, (uint64_t{field} << 3) | 5);
  PutFixed32(&buf_, v);
  return *this;
}

ProtoWriter& ProtoWriter::Fixed64(uint32_t field, uint64_t v) {
  PutVarint64(&buf_, (uint64_t{field} << 3) | 1);
  PutFixed64(&buf_, v);
  return *this;
}

ProtoWriter& ProtoWriter::Bytes(uint32_t field, std::string_view bytes) {
  PutVarint64(&buf_, (uint64_t{field} << 3) | 2);
  PutVarint64(&buf_, bytes.size());
  buf_.append(bytes);
  return *this;
}

ProtoWriter& ProtoWriter::PackedVarints(uint32_t field, const std::vector<int64_t>& values) {
  std::string packed;
  for (int64_t v : values) PutVarint64(&packed, static_cast<uint64_t>(v));
  return Bytes(field, packed);
}

ProtoWriter& ProtoWriter::Raw(std::string_view bytes) {
  buf_.append(bytes);
  return *this;
}

int OnnxDataType(DType dtype) {
  // TensorProto.DataType, indexed by DType's persisted value (kUnknown = 0 = UNDEFINED).
  static constexpr int kByDType[] = {0,  1,  10, 16, 11, 3, 5,  6,  7,  2, 4,
                                     12, 13, 9,  17, 19, 8, 14, 15, 22, 21};
  const auto i = static_cast<size_t>(dtype);
  return i < std::size(kByDType) ? kByDType[i] : 0;
}

std::string OnnxTensor::Encode() const {
  ProtoWriter w;
  w.PackedVarints(kTensorDims, dims);
  w.Varint(kTensorDataType, static_cast<uint64_t>(OnnxDataType(dtype)));
  if (!name.empty()) w.Bytes(kTensorName, name);
  switch (data) {
    case Data::kRaw:
      w.Bytes(kTensorRawData, raw);
      break;
    case Data::kFloatData: {
      std::string payload;
      for (double r : reals) PutFixed32(&payload, FloatBits(static_cast<float>(r)));
      w.Bytes(kTensorFloatData, payload);
      break;
    }
    case Data::kDoubleData: {
      std::string payload;
      for (double r : reals) PutFixed64(&payload, DoubleBits(r));
      w.Bytes(kTensorDoubleData, payload);
      break;
    }
    case Data::kInt32Data:
      w.PackedVarints(kTensorInt32Data, ints);
      break;
    case Data::kInt64Data:
      w.PackedVarints(kTensorInt64Data, ints);
      break;
    case Data::kUint64Data:
      w.PackedVarints(kTensorUint64Data, ints);
      break;
    case Data::kFloatDataUnpacked:
      for (double r : reals) w.Fixed32(kTensorFloatData, FloatBits(static_cast<float>(r)));
      break;
    case Data::kExternal:
      w.Bytes(kTensorExternalData, Entry("location", location));
      w.Bytes(kTensorExternalData, Entry("offset", "0"));
      w.Varint(kTensorDataLocation, 1);
      break;
    case Data::kNone:
      break;
  }
  return w.str();
}

std::string TensorAttr(std::string_view name, const OnnxTensor& t) {
  ProtoWriter a;
  a.Bytes(kAttrName, name).Varint(kAttrType, kAttrTypeTensor).Bytes(kAttrT, t.Encode());
  return a.str();
}

std::string GraphAttr(std::string_view name, std::string_view graph_proto) {
  ProtoWriter a;
  a.Bytes(kAttrName, name).Varint(kAttrType, kAttrTypeGraph).Bytes(kAttrG, graph_proto);
  return a.str();
}

std::string NodeProto(std::string_view name, std::string_view op_type,
                      const std::vector<std::string>& inputs,
                      const std::vector<std::string>& outputs,
                      const std::vector<std::string>& attributes) {
  ProtoWriter n;
  for (const std::string& i : inputs) n.Bytes(kNodeInput, i);
  for (const std::string& o : outputs) n.Bytes(kNodeOutput, o);
  if (!name.empty()) n.Bytes(kNodeName, name);
  n.Bytes(kNodeOpType, op_type);
  for (const std::string& a : attributes) n.Bytes(kNodeAttribute, a);
  return n.str();
}

OnnxGraph& OnnxGraph::AddInitializer(std::string name, DType dtype, std::vector<int64_t> dims,
                                     std::string_view raw) {
  OnnxTensor t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.dims = std::move(dims);
  t.raw = std::string(raw);
  return AddTensorInitializer(t);
}

OnnxGraph& OnnxGraph::AddTensorInitializer(const OnnxTensor& t) {
  initializers_.push_back(t.Encode());
  return *this;
}

OnnxGraph& OnnxGraph::AddSparseInitializer(const OnnxTensor& values, const OnnxTensor& indices) {
  ProtoWriter s;
  s.Bytes(kSparseValues, values.Encode()).Bytes(kSparseIndices, indices.Encode());
  s.PackedVarints(kSparseDims, values.dims);
  sparse_initializers_.push_back(s.str());
  return *this;
}

OnnxGraph& OnnxGraph::AddConstantNode(std::string node_name, std::string output, DType dtype,
                                      std::vector<int64_t> dims, std::string_view raw) {
  OnnxTensor t;
  t.dtype = dtype;
  t.dims = std::move(dims);
  t.raw = std::string(raw);
  return AddNode(NodeProto(node_name, "Constant", {}, {output}, {TensorAttr("value", t)}));
}

OnnxGraph& OnnxGraph::AddIfNode(std::string node_name, const OnnxGraph& then_branch,
                                const OnnxGraph& else_branch) {
  return AddNode(NodeProto(node_name, "If", {"cond"}, {node_name + "_out"},
                           {GraphAttr("then_branch", then_branch.Encode()),
                            GraphAttr("else_branch", else_branch.Encode())}));
}

OnnxGraph& OnnxGraph::AddLoopNode(std::string node_name, const OnnxGraph& body) {
  return AddNode(NodeProto(node_name, "Loop", {"trip", "cond"}, {node_name + "_out"},
                           {GraphAttr("body", body.Encode())}));
}

OnnxGraph& OnnxGraph::AddNode(std::string node_proto) {
  nodes_.push_back(std::move(node_proto));
  return *this;
}

OnnxGraph& OnnxGraph::SetInputs(std::vector<std::string> value_infos) {
  inputs_ = std::move(value_infos);
  return *this;
}

OnnxGraph& OnnxGraph::SetOutputs(std::vector<std::string> value_infos) {
  outputs_ = std::move(value_infos);
  return *this;
}

std::string ValueInfoProto(std::string_view name, tensor::DType dtype,
                           const std::vector<std::string>& dims) {
  ProtoWriter shape, tensor_type, type, info;
  for (const std::string& d : dims) {
    ProtoWriter dim;
    if (!d.empty() && d.find_first_not_of("0123456789") == std::string::npos) {
      dim.Varint(1, std::stoull(d));  // dim_value
    } else if (d != "?") {
      dim.Bytes(2, d);  // dim_param
    }
    shape.Bytes(1, dim.str());
  }
  tensor_type.Varint(1, static_cast<uint64_t>(OnnxDataType(dtype))).Bytes(2, shape.str());
  type.Bytes(1, tensor_type.str());
  info.Bytes(1, name).Bytes(2, type.str());
  return info.str();
}

OnnxGraph& OnnxGraph::AddRawBytes(std::string_view bytes) {
  raw_.append(bytes);
  return *this;
}

std::string OnnxGraph::Encode() const {
  ProtoWriter g;
  for (const std::string& n : nodes_) g.Bytes(kGraphNode, n);
  g.Bytes(kGraphName, name_);
  for (const std::string& i : initializers_) g.Bytes(kGraphInitializer, i);
  if (inputs_.empty()) g.Bytes(kGraphInput, ValueInfo("x"));
  for (const std::string& v : inputs_) g.Bytes(kGraphInput, v);
  if (outputs_.empty()) g.Bytes(kGraphOutput, ValueInfo("y"));
  for (const std::string& v : outputs_) g.Bytes(kGraphOutput, v);
  for (const std::string& s : sparse_initializers_) g.Bytes(kGraphSparseInitializer, s);
  g.Raw(raw_);
  return g.str();
}

OnnxBuilder& OnnxBuilder::AddFunction(std::string name, const OnnxGraph& body) {
  ProtoWriter opset, f;
  opset.Bytes(kOpsetDomain, "").Varint(kOpsetVersion, 17);
  f.Bytes(kFunctionName, name).Bytes(kFunctionInput, "x").Bytes(kFunctionOutput, "y");
  for (const std::string& n : body.nodes()) f.Bytes(kFunctionNode, n);
  f.Bytes(kFunctionOpsetImport, opset.str()).Bytes(kFunctionDomain, "local");
  functions_.push_back(f.str());
  return *this;
}

OnnxBuilder& OnnxBuilder::AddMetadata(std::string key, std::string value) {
  metadata_.emplace_back(std::move(key), std::move(value));
  return *this;
}

OnnxBuilder& OnnxBuilder::AddRawModelBytes(std::string_view bytes) {
  raw_model_.append(bytes);
  return *this;
}

std::string OnnxBuilder::Build() const {
  ProtoWriter opset, m;
  opset.Bytes(kOpsetDomain, "").Varint(kOpsetVersion, 17);
  m.Varint(kModelIrVersion, 8).Bytes(kModelProducerName, "oxide-test");
  m.Bytes(kModelGraph, Encode());
  m.Bytes(kModelOpsetImport, opset.str());
  for (const auto& [k, v] : metadata_) m.Bytes(kModelMetadataProps, Entry(k, v));
  for (const std::string& f : functions_) m.Bytes(kModelFunctions, f);
  m.Raw(raw_model_);
  return m.str();
}

std::string F32Bytes(const std::vector<float>& values) {
  std::string out;
  for (float v : values) PutFixed32(&out, FloatBits(v));
  return out;
}

std::string I64Bytes(const std::vector<int64_t>& values) {
  std::string out;
  for (int64_t v : values) PutFixed64(&out, static_cast<uint64_t>(v));
  return out;
}

std::vector<float> FromF32Bytes(std::string_view bytes) {
  std::vector<float> out(bytes.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) {
    const uint32_t u = DecodeFixed32(reinterpret_cast<const uint8_t*>(bytes.data()) + 4 * i);
    std::memcpy(&out[i], &u, sizeof(u));
  }
  return out;
}

std::string RandomNormalF32(size_t count, uint64_t seed, float stddev) {
  uint64_t state = seed;
  std::vector<float> values(count);
  for (float& v : values) {
    double sum = 0;
    for (int i = 0; i < 12; ++i) sum += Uniform(&state);
    v = static_cast<float>((sum - 6.0) * stddev);
  }
  return F32Bytes(values);
}

std::string FineTuneF32(std::string_view f32_bytes, uint64_t seed, float relative,
                        double fraction) {
  uint64_t state = seed ^ 0x5bd1e995ULL;
  std::vector<float> values = FromF32Bytes(f32_bytes);
  for (float& v : values) {
    if (Uniform(&state) >= fraction) continue;
    const double u = Uniform(&state) * 2.0 - 1.0;
    v = static_cast<float>(v * (1.0 + u * relative));
  }
  std::string out = F32Bytes(values);
  out.append(f32_bytes.substr(out.size()));  // keep a trailing partial element untouched
  return out;
}

std::string SampleOnnxModel(uint64_t seed, uint64_t finetune_seed) {
  auto weights = [&](size_t count, uint64_t salt) {
    std::string w = RandomNormalF32(count, seed * 1000 + salt);
    return finetune_seed == 0 ? w : FineTuneF32(w, finetune_seed * 1000 + salt);
  };
  OnnxBuilder b;
  b.AddInitializer("conv.weight", DType::kF32, {8, 4, 3, 3}, weights(288, 1));
  b.AddInitializer("conv.bias", DType::kF32, {8}, weights(8, 2));
  OnnxTensor scale;
  scale.name = "scale";
  scale.dims = {4};
  scale.data = OnnxTensor::Data::kFloatData;
  for (float f : FromF32Bytes(weights(4, 3))) scale.reals.push_back(f);
  b.AddTensorInitializer(scale);
  OnnxTensor shape;
  shape.name = "shape";
  shape.dtype = DType::kI64;
  shape.dims = {2};
  shape.data = OnnxTensor::Data::kInt64Data;
  shape.ints = {1, -1};
  b.AddTensorInitializer(shape);
  OnnxTensor external;
  external.name = "big.weight";
  external.dims = {1024};
  external.data = OnnxTensor::Data::kExternal;
  external.location = "big.weight.bin";
  b.AddTensorInitializer(external);
  OnnxTensor values, indices;
  values.name = "sparse.weight";
  values.dims = {3};
  values.raw = weights(3, 4);
  indices.dtype = DType::kI64;
  indices.dims = {3};
  indices.raw = I64Bytes({0, 5, 9});
  b.AddSparseInitializer(values, indices);
  b.AddConstantNode("const0", "c0", DType::kF32, {2, 2}, weights(4, 5));
  OnnxGraph body("loop_body");
  body.AddInitializer("body.weight", DType::kF32, {4}, weights(4, 6));
  body.AddConstantNode("", "k", DType::kI64, {1}, I64Bytes({7}));
  OnnxGraph then_branch("then");
  then_branch.AddLoopNode("loop0", body);
  OnnxGraph else_branch("else");
  else_branch.AddConstantNode("else_const", "e", DType::kF32, {3}, weights(3, 7));
  b.AddIfNode("if0", then_branch, else_branch);
  OnnxGraph fn_body("fn");
  fn_body.AddConstantNode("fn_const", "f", DType::kF32, {2}, weights(2, 8));
  b.AddFunction("LocalFn", fn_body);
  b.AddMetadata("producer", "oxide-test");
  return b.Build();
}

std::string CheckerValidOnnxModel(size_t weights, uint64_t seed) {
  const std::string n = std::to_string(weights);
  OnnxBuilder b;
  b.AddInitializer("w", tensor::DType::kF32, {1, static_cast<int64_t>(weights)},
                   RandomNormalF32(weights, seed));
  b.AddNode(NodeProto("add", "Add", {"x", "w"}, {"y"}, {}));
  b.SetInputs({ValueInfoProto("x", tensor::DType::kF32, {"1", n})});
  b.SetOutputs({ValueInfoProto("y", tensor::DType::kF32, {"1", n})});
  return b.Build();
}

}  // namespace oxide::testing
