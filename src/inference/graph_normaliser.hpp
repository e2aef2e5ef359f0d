#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "tensor/model_signature.hpp"

namespace oxide::inference {

// An ONNX model rewritten into the forms OpenCV DNN 4.6's importer accepts. Every rewrite keeps
// the numerical semantics exactly: it only moves constants from where newer opsets put them
// (node inputs, Constant nodes) to where the 4.6 importer looks for them (attributes,
// initializers), or inlines the branch an If takes on a constant condition.
struct NormalisedModel {
  std::string onnx;                   // serialised ModelProto to hand to the importer
  tensor::ModelSignature signature;   // graph inputs (initializers excluded) and outputs
  std::vector<std::string> rewrites;  // one line per kind of rewrite applied, e.g. "Clip: 3"
  // A MatMul of two activations (attention): OpenCV 4.6 fuses a following scale into it and
  // then drops the scale, so the runtime must load such graphs with layer fusion off.
  bool matmul_of_activations = false;
};

// kCorrupt when the bytes are not an ONNX model; kUnsupported with one line naming the operator
// or construct when the graph needs something no rewrite can provide (an If whose condition is
// computed at run time, a Clip bound that is not a constant, a Loop).
Result<NormalisedModel> NormaliseForOpenCv(std::string_view onnx_bytes);

}  // namespace oxide::inference
