// Graph summary and signature of a model, read with the same bounds-checked wire walker as the
// ONNX indexer (no libonnx: the agent compares signatures on the device).
#include "tensor/model_signature.hpp"

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "tensor/onnx_fields.hpp"
#include "tensor/wire_reader.hpp"

namespace oxide::tensor {
namespace {

using internal::WireField;
using internal::WireReader;
using internal::WireType;

// onnx.proto field numbers used only here (the indexer's onnx_fields.hpp lists the tensor path).
namespace model_g {
constexpr uint32_t kIrVersion = 1, kProducerName = 2, kProducerVersion = 3, kGraph = 7,
                   kOpsetImport = 8;
}
namespace graph_g {
constexpr uint32_t kNode = 1, kName = 2, kInitializer = 5, kInput = 11, kOutput = 12,
                   kSparseInitializer = 15;
}
namespace node_g {
constexpr uint32_t kOpType = 4, kDomain = 7;
}
namespace opset_g {
constexpr uint32_t kDomain = 1, kVersion = 2;
}
namespace value_info_g {
constexpr uint32_t kName = 1, kType = 2;
}
namespace type_g {
constexpr uint32_t kTensorType = 1, kSparseTensorType = 8;
}
namespace tensor_type_g {
constexpr uint32_t kElemType = 1, kShape = 2;
}
namespace shape_g {
constexpr uint32_t kDim = 1;
}
namespace dim_g {
constexpr uint32_t kDimValue = 1, kDimParam = 2;
}
namespace init_g {
constexpr uint32_t kName = 8;    // TensorProto.name
constexpr uint32_t kValues = 1;  // SparseTensorProto.values
}  // namespace init_g

bool IsLen(const WireField& f, uint32_t number) {
  return f.number == number && f.type == WireType::kLengthDelimited;
}
bool IsVarint(const WireField& f, uint32_t number) {
  return f.number == number && f.type == WireType::kVarint;
}

// Calls `fn(field)` for each field of `msg`; stops at the first error.
template <class Fn>
Status ForEachField(std::string_view file, std::string_view msg, Fn&& fn) {
  WireReader r(msg, static_cast<uint64_t>(msg.data() - file.data()));
  WireField f;
  while (!r.done()) {
    OXIDE_RETURN_IF_ERROR(r.Next(&f));
    OXIDE_RETURN_IF_ERROR(fn(f));
  }
  return Status::Ok();
}

class SignatureReader {
 public:
  explicit SignatureReader(std::string_view file) : file_(file) {}

  Result<GraphSummary> Read();

 private:
  Status ReadGraph(std::string_view msg);
  Status ReadValueInfo(std::string_view msg, ValueInfo* info);
  Status ReadTensorType(std::string_view msg, ValueInfo* info);
  Status ReadShape(std::string_view msg, ValueInfo* info);
  Status ReadDim(std::string_view msg, Dim* dim);
  Status ReadInitializerName(std::string_view msg, bool sparse, std::set<std::string>* names);

  std::string_view file_;
  GraphSummary summary_;
};

Result<GraphSummary> SignatureReader::Read() {
  summary_.format = ModelFormat::kOnnx;
  bool has_ir_version = false;
  bool has_graph = false;
  // Plain Status variables for the outer walks: the macro inside their lambdas would shadow.
  const Status walked = ForEachField(file_, file_, [&](const WireField& f) -> Status {
    if (IsVarint(f, model_g::kIrVersion)) {
      has_ir_version = true;
      summary_.ir_version = static_cast<int64_t>(f.value);
    } else if (IsLen(f, model_g::kProducerName)) {
      summary_.producer_name = std::string(f.payload);
    } else if (IsLen(f, model_g::kProducerVersion)) {
      summary_.producer_version = std::string(f.payload);
    } else if (IsLen(f, model_g::kOpsetImport)) {
      std::pair<std::string, int64_t> opset;
      OXIDE_RETURN_IF_ERROR(ForEachField(file_, f.payload, [&](const WireField& o) -> Status {
        if (IsLen(o, opset_g::kDomain)) opset.first = std::string(o.payload);
        if (IsVarint(o, opset_g::kVersion)) opset.second = static_cast<int64_t>(o.value);
        return Status::Ok();
      }));
      summary_.opsets.push_back(std::move(opset));
    } else if (IsLen(f, model_g::kGraph)) {
      // A singular message field: protobuf merges repeats, real writers emit one. Take the last.
      has_graph = true;
      summary_.signature = {};
      summary_.op_counts.clear();
      OXIDE_RETURN_IF_ERROR(ReadGraph(f.payload));
    }
    return Status::Ok();
  });
  if (!walked.ok()) return walked;
  if (!has_ir_version) return Corrupt("not an ONNX model: no ir_version");
  summary_.has_graph = has_graph;
  return std::move(summary_);
}

Status SignatureReader::ReadGraph(std::string_view msg) {
  std::set<std::string> initializers;
  std::vector<ValueInfo> inputs;
  std::map<std::string, uint64_t> ops;
  const Status walked = ForEachField(file_, msg, [&](const WireField& f) -> Status {
    if (IsLen(f, graph_g::kName)) {
      summary_.graph_name = std::string(f.payload);
    } else if (IsLen(f, graph_g::kInitializer) || IsLen(f, graph_g::kSparseInitializer)) {
      return ReadInitializerName(f.payload, f.number == graph_g::kSparseInitializer, &initializers);
    } else if (IsLen(f, graph_g::kInput) || IsLen(f, graph_g::kOutput)) {
      ValueInfo info;
      OXIDE_RETURN_IF_ERROR(ReadValueInfo(f.payload, &info));
      (f.number == graph_g::kInput ? inputs : summary_.signature.outputs)
          .push_back(std::move(info));
    } else if (IsLen(f, graph_g::kNode)) {
      std::string op, domain;
      OXIDE_RETURN_IF_ERROR(ForEachField(file_, f.payload, [&](const WireField& n) -> Status {
        if (IsLen(n, node_g::kOpType)) op = std::string(n.payload);
        if (IsLen(n, node_g::kDomain)) domain = std::string(n.payload);
        return Status::Ok();
      }));
      ++ops[domain.empty() || domain == "ai.onnx" ? op : domain + ":" + op];
    }
    return Status::Ok();
  });
  if (!walked.ok()) return walked;
  // Before IR 4 every initializer was also listed as an input; the application never feeds
  // those, so they are not part of the signature.
  for (ValueInfo& in : inputs) {
    if (initializers.count(in.name) == 0) summary_.signature.inputs.push_back(std::move(in));
  }
  summary_.op_counts.assign(ops.begin(), ops.end());
  return Status::Ok();
}

Status SignatureReader::ReadInitializerName(std::string_view msg, bool sparse,
                                            std::set<std::string>* names) {
  return ForEachField(file_, msg, [&](const WireField& f) -> Status {
    if (sparse && IsLen(f, init_g::kValues)) return ReadInitializerName(f.payload, false, names);
    if (!sparse && IsLen(f, init_g::kName)) names->insert(std::string(f.payload));
    return Status::Ok();
  });
}

Status SignatureReader::ReadValueInfo(std::string_view msg, ValueInfo* info) {
  return ForEachField(file_, msg, [&](const WireField& f) -> Status {
    if (IsLen(f, value_info_g::kName)) info->name = std::string(f.payload);
    if (!IsLen(f, value_info_g::kType)) return Status::Ok();
    return ForEachField(file_, f.payload, [&](const WireField& t) -> Status {
      if (IsLen(t, type_g::kTensorType) || IsLen(t, type_g::kSparseTensorType)) {
        return ReadTensorType(t.payload, info);
      }
      return Status::Ok();  // sequences, maps, optionals: no dtype or shape to compare
    });
  });
}

Status SignatureReader::ReadTensorType(std::string_view msg, ValueInfo* info) {
  return ForEachField(file_, msg, [&](const WireField& f) -> Status {
    if (IsVarint(f, tensor_type_g::kElemType)) info->dtype = internal::FromOnnxDataType(f.value);
    if (IsLen(f, tensor_type_g::kShape)) return ReadShape(f.payload, info);
    return Status::Ok();
  });
}

Status SignatureReader::ReadShape(std::string_view msg, ValueInfo* info) {
  info->has_shape = true;
  info->dims.clear();
  return ForEachField(file_, msg, [&](const WireField& f) -> Status {
    if (!IsLen(f, shape_g::kDim)) return Status::Ok();
    Dim dim;
    OXIDE_RETURN_IF_ERROR(ReadDim(f.payload, &dim));
    info->dims.push_back(std::move(dim));
    return Status::Ok();
  });
}

Status SignatureReader::ReadDim(std::string_view msg, Dim* dim) {
  return ForEachField(file_, msg, [&](const WireField& f) -> Status {
    if (IsVarint(f, dim_g::kDimValue)) {
      // dim_value is an int64: a negative one is meaningless, keep it as unknown.
      const auto v = static_cast<int64_t>(f.value);
      dim->size = v >= 0 ? v : -1;
      dim->symbol.clear();
    } else if (IsLen(f, dim_g::kDimParam)) {
      dim->size = -1;
      dim->symbol = std::string(f.payload);
    }
    return Status::Ok();
  });
}

std::string ShapeString(const ValueInfo& v) {
  if (!v.has_shape) return "unknown";
  std::string s = "[";
  for (size_t i = 0; i < v.dims.size(); ++i) {
    if (i > 0) s += ",";
    const Dim& d = v.dims[i];
    s += d.size >= 0 ? std::to_string(d.size) : (d.symbol.empty() ? "?" : d.symbol);
  }
  return s + "]";
}

// Symbolic dims are equal whatever their names: exporters rename dynamic axes ("batch" -> "N")
// without changing what a caller may feed.
bool SameDims(const std::vector<Dim>& a, const std::vector<Dim>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].size != b[i].size) return false;  // -1 (symbolic) on both sides is equal
  }
  return true;
}

void DescribeSide(std::string_view kind, const std::vector<ValueInfo>& before,
                  const std::vector<ValueInfo>& after, std::vector<std::string>* out) {
  const std::string k(kind);
  auto find = [](const std::vector<ValueInfo>& list, const std::string& name) -> const ValueInfo* {
    for (const ValueInfo& v : list) {
      if (v.name == name) return &v;
    }
    return nullptr;
  };
  for (const ValueInfo& b : before) {
    const ValueInfo* a = find(after, b.name);
    if (a == nullptr) {
      out->push_back(k + " '" + b.name + "' removed");
      continue;
    }
    if (a->dtype != b.dtype) {
      out->push_back(k + " '" + b.name + "' dtype changed: " + std::string(ToString(b.dtype)) +
                     " -> " + std::string(ToString(a->dtype)));
    }
    if (a->has_shape != b.has_shape || !SameDims(a->dims, b.dims)) {
      out->push_back(k + " '" + b.name + "' shape changed: " + ShapeString(b) + " -> " +
                     ShapeString(*a));
    }
  }
  for (const ValueInfo& a : after) {
    if (find(before, a.name) == nullptr) {
      out->push_back(k + " '" + a.name + "' added: " + std::string(ToString(a.dtype)) + " " +
                     ShapeString(a));
    }
  }
  // Same names and types but a different order still breaks positional feeding.
  if (out->empty() && before.size() == after.size()) {
    for (size_t i = 0; i < before.size(); ++i) {
      if (before[i].name != after[i].name) {
        out->push_back(k + "s reordered");
        break;
      }
    }
  }
}

nlohmann::json EncodeList(const std::vector<ValueInfo>& list) {
  nlohmann::json arr = nlohmann::json::array();
  for (const ValueInfo& v : list) {
    nlohmann::json o = {{"name", v.name}, {"dtype", std::string(ToString(v.dtype))}};
    if (v.has_shape) {
      nlohmann::json shape = nlohmann::json::array();
      for (const Dim& d : v.dims) {
        if (d.size >= 0) {
          shape.push_back(d.size);
        } else if (!d.symbol.empty()) {
          shape.push_back(d.symbol);
        } else {
          shape.push_back(nullptr);
        }
      }
      o["shape"] = std::move(shape);
    }
    arr.push_back(std::move(o));
  }
  return arr;
}

Result<DType> ParseDType(const std::string& s) {
  for (int i = 0; i <= static_cast<int>(kLastDType); ++i) {
    const auto d = static_cast<DType>(i);
    if (ToString(d) == s) return d;
  }
  return Corrupt("signature: unknown dtype '" + s + "'");
}

Status DecodeList(const nlohmann::json& arr, std::vector<ValueInfo>* out) {
  if (!arr.is_array()) return Corrupt("signature: inputs/outputs must be arrays");
  for (const nlohmann::json& o : arr) {
    if (!o.is_object() || !o.contains("name") || !o["name"].is_string() || !o.contains("dtype") ||
        !o["dtype"].is_string()) {
      return Corrupt("signature: each value needs a string name and dtype");
    }
    ValueInfo v;
    v.name = o["name"].get<std::string>();
    OXIDE_ASSIGN_OR_RETURN(v.dtype, ParseDType(o["dtype"].get<std::string>()));
    if (o.contains("shape")) {
      const nlohmann::json& shape = o["shape"];
      if (!shape.is_array()) return Corrupt("signature: shape must be an array");
      v.has_shape = true;
      for (const nlohmann::json& d : shape) {
        Dim dim;
        if (d.is_number_integer() && d.get<int64_t>() >= 0) {
          dim.size = d.get<int64_t>();
        } else if (d.is_string()) {
          dim.symbol = d.get<std::string>();
        } else if (!d.is_null()) {
          return Corrupt("signature: a dim is a non-negative integer, a string or null");
        }
        v.dims.push_back(std::move(dim));
      }
    }
    out->push_back(std::move(v));
  }
  return Status::Ok();
}

}  // namespace

Result<GraphSummary> SummariseModel(std::string_view file, ModelFormat format) {
  if (format != ModelFormat::kOnnx) {
    GraphSummary s;
    s.format = format;
    return s;
  }
  return SignatureReader(file).Read();
}

std::vector<std::string> DescribeSignatureChange(const ModelSignature& before,
                                                 const ModelSignature& after) {
  if (before == after) return {};  // also covers duplicate names, which lookups cannot pair
  std::vector<std::string> out;
  std::vector<std::string> outputs;
  DescribeSide("input", before.inputs, after.inputs, &out);
  DescribeSide("output", before.outputs, after.outputs, &outputs);
  out.insert(out.end(), outputs.begin(), outputs.end());
  return out;
}

std::string EncodeSignature(const ModelSignature& signature) {
  const nlohmann::json j = {{"inputs", EncodeList(signature.inputs)},
                            {"outputs", EncodeList(signature.outputs)}};
  // Names come from the model file and may be invalid UTF-8: replace rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<ModelSignature> DecodeSignature(std::string_view json) {
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Corrupt("signature: not a JSON object");
  ModelSignature s;
  if (j.contains("inputs")) OXIDE_RETURN_IF_ERROR(DecodeList(j["inputs"], &s.inputs));
  if (j.contains("outputs")) OXIDE_RETURN_IF_ERROR(DecodeList(j["outputs"], &s.outputs));
  return s;
}

}  // namespace oxide::tensor
