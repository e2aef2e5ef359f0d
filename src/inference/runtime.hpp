#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "inference/tensor_set.hpp"
#include "tensor/model_signature.hpp"

namespace oxide::inference {

struct SessionOptions {
  int threads = 1;  // intra-op threads; 1 keeps latency figures comparable on a busy device
};

// A model loaded and ready to run. Not thread-safe: one caller at a time.
class Session {
 public:
  virtual ~Session() = default;
  // The graph inputs and outputs as the runtime sees them.
  virtual const tensor::ModelSignature& signature() const = 0;
  // Runs one inference. kInvalidArgument naming the input when one is missing, unknown, or
  // of the wrong dtype or shape; kUnsupported when the runtime fails on a construct at run time.
  virtual Result<TensorSet> Run(const TensorSet& inputs) = 0;
};

// A CPU inference engine. Optional in the build (OXIDE_WITH_INFERENCE); the agent and the
// server work without one.
class Runtime {
 public:
  virtual ~Runtime() = default;
  virtual std::string_view name() const = 0;  // e.g. "opencv-dnn 4.6.0"
  // kUnsupported with one line naming the operator or construct the runtime refuses
  // ("operator 'If' (node 'vad/If_3') is not supported by opencv-dnn 4.6.0"); kCorrupt for a file
  // that is not a model; kNotFound / kIo when unreadable.
  virtual Result<std::unique_ptr<Session>> Load(const std::string& model_path,
                                                const SessionOptions& options) = 0;
};

// The runtime compiled into this binary, or null when it was built without inference.
std::unique_ptr<Runtime> MakeRuntime();

}  // namespace oxide::inference
