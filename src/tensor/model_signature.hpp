#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "tensor/tensor_index.hpp"

namespace oxide::tensor {

// One dimension of a graph input or output: a fixed size, or symbolic ("batch", or unnamed).
struct Dim {
  int64_t size = -1;   // >= 0: fixed; -1: symbolic
  std::string symbol;  // dim_param when symbolic (may be empty: unknown)
  bool operator==(const Dim&) const = default;
};

struct ValueInfo {
  std::string name;
  DType dtype = DType::kUnknown;
  std::vector<Dim> dims;
  bool has_shape = false;  // false: the model declares no shape at all (rank unknown)
  bool operator==(const ValueInfo&) const = default;
};

// What an application feeding the model relies on: graph inputs (initializers excluded) and
// outputs, in declaration order.
struct ModelSignature {
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
  bool operator==(const ModelSignature&) const = default;
};

// What `oxide info` shows about a model file beyond its tensor index.
struct GraphSummary {
  ModelFormat format = ModelFormat::kUnknown;
  bool has_graph = false;  // ONNX: true; SafeTensors and others: false (no signature)
  int64_t ir_version = 0;
  std::string producer_name, producer_version, graph_name;
  std::vector<std::pair<std::string, int64_t>> opsets;  // (domain, version); "" is ai.onnx
  ModelSignature signature;
  std::vector<std::pair<std::string, uint64_t>> op_counts;  // op_type → nodes (main graph)
};

// Reads the graph summary of a model held in memory with the bounds-checked wire walker
// (no libonnx: the agent uses it too). kCorrupt with a specific message on malformed input.
// Formats without a graph return has_graph = false and an empty signature.
Result<GraphSummary> SummariseModel(std::string_view file, ModelFormat format);

// Empty when `after` can replace `before` for an application; otherwise one human-readable line
// per difference, e.g. "input 'x' shape changed: [1,3,224,224] -> [1,3,256,256]",
// "output 'logits' removed", "input 'x' dtype changed: F32 -> F16". Symbolic dims compare equal
// whatever their names (a re-export renaming "batch" to "N" is no change).
std::vector<std::string> DescribeSignatureChange(const ModelSignature& before,
                                                 const ModelSignature& after);

// Stable JSON encoding used by the store and the API:
// {"inputs":[{"name":"x","dtype":"F32","shape":[1,"batch",null]}],"outputs":[...]}
// (fixed dims are numbers, symbolic dims their symbol, unnamed symbolic dims null; "shape" is
// absent when has_shape is false).
std::string EncodeSignature(const ModelSignature& signature);
Result<ModelSignature> DecodeSignature(std::string_view json);

}  // namespace oxide::tensor
