// `oxide info MODEL [--json]`: what a model is beyond its bytes — format, producer, IR and
// opsets, the graph's inputs and outputs (symbolic dims kept), parameters per dtype.
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "base/file_util.hpp"
#include "cli/commands.hpp"
#include "tensor/model_signature.hpp"
#include "tensor/tensor_index.hpp"

namespace oxide::cli {
namespace {

using Json = nlohmann::ordered_json;

struct DTypeTotals {
  uint64_t elements = 0;
  uint64_t bytes = 0;
};

// Elements of a tensor from its dims; a scalar holds one. Saturates instead of wrapping on
// absurd (hostile) dims.
uint64_t Elements(const tensor::TensorInfo& t) {
  uint64_t n = 1;
  for (int64_t d : t.dims) {
    if (d < 0) return 0;
    const auto u = static_cast<uint64_t>(d);
    if (u != 0 && n > UINT64_MAX / u) return UINT64_MAX;
    n *= u;
  }
  return n;
}

std::string Shape(const tensor::ValueInfo& v) {
  if (!v.has_shape) return "?";
  std::string s = "[";
  for (size_t i = 0; i < v.dims.size(); ++i) {
    if (i > 0) s += ",";
    const tensor::Dim& d = v.dims[i];
    s += d.size >= 0 ? std::to_string(d.size) : (d.symbol.empty() ? "?" : d.symbol);
  }
  return s + "]";
}

Json ShapeJson(const tensor::ValueInfo& v) {
  if (!v.has_shape) return nullptr;
  Json shape = Json::array();
  for (const tensor::Dim& d : v.dims) {
    if (d.size >= 0) {
      shape.push_back(d.size);
    } else if (!d.symbol.empty()) {
      shape.push_back(d.symbol);
    } else {
      shape.push_back(nullptr);
    }
  }
  return shape;
}

Json ValuesJson(const std::vector<tensor::ValueInfo>& list) {
  Json out = Json::array();
  for (const auto& v : list) {
    out.push_back({{"name", v.name},
                   {"dtype", std::string(tensor::ToString(v.dtype))},
                   {"shape", ShapeJson(v)}});
  }
  return out;
}

std::string OpsetName(const std::string& domain) { return domain.empty() ? "ai.onnx" : domain; }

Json InfoJson(const tensor::GraphSummary& g, size_t size, uint64_t params, uint64_t bytes,
              const std::map<tensor::DType, DTypeTotals>& by_dtype, size_t tensors) {
  Json j;
  j["format"] = std::string(tensor::ToString(g.format));
  j["size_bytes"] = size;
  if (g.has_graph) {
    j["producer"] = {{"name", g.producer_name}, {"version", g.producer_version}};
    j["ir_version"] = g.ir_version;
    Json opsets = Json::array();
    for (const auto& [domain, version] : g.opsets) {
      opsets.push_back({{"domain", OpsetName(domain)}, {"version", version}});
    }
    j["opsets"] = std::move(opsets);
    j["graph_name"] = g.graph_name;
    j["inputs"] = ValuesJson(g.signature.inputs);
    j["outputs"] = ValuesJson(g.signature.outputs);
    Json ops = Json::array();
    for (const auto& [op, count] : g.op_counts) ops.push_back({{"op", op}, {"count", count}});
    j["ops"] = std::move(ops);
  } else {
    for (const char* k :
         {"producer", "ir_version", "opsets", "graph_name", "inputs", "outputs", "ops"}) {
      j[k] = nullptr;
    }
  }
  Json per = Json::array();
  for (const auto& [dtype, t] : by_dtype) {
    per.push_back({{"dtype", std::string(tensor::ToString(dtype))},
                   {"count", t.elements},
                   {"bytes", t.bytes}});
  }
  j["parameters"] = {
      {"tensors", tensors}, {"count", params}, {"bytes", bytes}, {"by_dtype", std::move(per)}};
  return j;
}

std::string InfoText(const tensor::GraphSummary& g, size_t size, uint64_t params, uint64_t bytes,
                     const std::map<tensor::DType, DTypeTotals>& by_dtype, size_t tensors) {
  std::string out = "format:      " + std::string(tensor::ToString(g.format)) + " (" +
                    std::to_string(size) + " bytes)\n";
  if (g.has_graph) {
    std::string producer = g.producer_name.empty() ? "(none)" : g.producer_name;
    if (!g.producer_version.empty()) producer += " " + g.producer_version;
    out += "producer:    " + producer + "\n";
    out += "ir_version:  " + std::to_string(g.ir_version) + "\n";
    out += "opsets:     ";
    for (const auto& [domain, version] : g.opsets) {
      out += " " + OpsetName(domain) + " " + std::to_string(version);
    }
    out += "\n";
    for (const auto* side : {&g.signature.inputs, &g.signature.outputs}) {
      out += side == &g.signature.inputs ? "inputs:\n" : "outputs:\n";
      for (const auto& v : *side) {
        out +=
            "  " + v.name + "  " + std::string(tensor::ToString(v.dtype)) + "  " + Shape(v) + "\n";
      }
    }
  } else {
    out +=
        "graph:       none (" + std::string(tensor::ToString(g.format)) + " holds tensors only)\n";
  }
  out += "parameters:  " + std::to_string(params) + " in " + std::to_string(tensors) +
         " tensors, " + std::to_string(bytes) + " bytes\n";
  for (const auto& [dtype, t] : by_dtype) {
    out += "  " + std::string(tensor::ToString(dtype)) + "  " + std::to_string(t.elements) +
           " parameters, " + std::to_string(t.bytes) + " bytes\n";
  }
  if (g.has_graph && !g.op_counts.empty()) {
    out += "ops:        ";
    for (const auto& [op, count] : g.op_counts) out += " " + op + " x" + std::to_string(count);
    out += "\n";
  }
  return out;
}

}  // namespace

Status RunInfo(const InfoArgs& a) {
  OXIDE_ASSIGN_OR_RETURN(auto file, MappedFile::Open(a.path));
  const std::string_view view = file->view();
  tensor::ModelFormat format = tensor::DetectFormat(view);
  if (format == tensor::ModelFormat::kUnknown) format = tensor::ClaimedFormat(view);
  if (format == tensor::ModelFormat::kUnknown) {
    return InvalidArgument("not a model oxide understands (ONNX or SafeTensors)");
  }
  OXIDE_ASSIGN_OR_RETURN(auto index, tensor::IndexModel(view, format));
  OXIDE_ASSIGN_OR_RETURN(auto summary, tensor::SummariseModel(view, format));
  std::map<tensor::DType, DTypeTotals> by_dtype;
  uint64_t params = 0, bytes = 0;
  for (const auto& t : index.tensors) {
    DTypeTotals& d = by_dtype[t.dtype];
    const uint64_t n = Elements(t);
    d.elements += n;
    d.bytes += t.length;
    params += n;
    bytes += t.length;
  }
  const std::string out =
      a.json ? InfoJson(summary, view.size(), params, bytes, by_dtype, index.tensors.size())
                       .dump(-1, ' ', false, Json::error_handler_t::replace) +
                   "\n"
             : InfoText(summary, view.size(), params, bytes, by_dtype, index.tensors.size());
  std::FILE* dest = a.out != nullptr ? a.out : stdout;
  std::fwrite(out.data(), 1, out.size(), dest);
  return Status::Ok();
}

}  // namespace oxide::cli
