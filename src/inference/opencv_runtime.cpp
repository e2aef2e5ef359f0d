// The OpenCV DNN 4.6 adapter behind inference::Runtime (OXIDE_WITH_INFERENCE=ON). The model is
// normalised first (graph_normaliser.hpp) so that torch exports at opset 13/17 load.
#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include "base/file_util.hpp"
#include "inference/graph_normaliser.hpp"
#include "inference/runtime.hpp"

namespace oxide::inference {
namespace {

constexpr size_t kMaxModelBytes = size_t{2} << 30;

std::string ShapeText(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

std::string ShapeText(const tensor::ValueInfo& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.dims.size(); ++i) {
    s += i ? "," : "";
    s += v.dims[i].size >= 0 ? std::to_string(v.dims[i].size)
                             : (v.dims[i].symbol.empty() ? "?" : v.dims[i].symbol);
  }
  return s + "]";
}

std::string FirstLine(std::string s) {
  size_t nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

std::vector<int64_t> WithoutUnitDims(const std::vector<int64_t>& dims) {
  std::vector<int64_t> out;
  for (int64_t d : dims) {
    if (d != 1) out.push_back(d);
  }
  return out;
}

// OpenCV's importer reports "Node [Clip@ai.onnx]:(onnx_node!Clip_3) parse error: <why>" inside a
// multi-line exception text; this keeps one line naming the operator and the node.
std::string ExplainImportError(const std::string& what) {
  size_t node = what.find("Node [");
  if (node != std::string::npos) {
    size_t at = what.find_first_of("@]", node + 6);
    size_t open = what.find("]:(", node);
    size_t close = open == std::string::npos ? open : what.find(')', open);
    if (at != std::string::npos && open != std::string::npos && close != std::string::npos) {
      std::string op = what.substr(node + 6, at - node - 6);
      std::string name = what.substr(open + 3, close - open - 3);
      if (name.rfind("onnx_node!", 0) == 0) name = name.substr(10);
      std::string why = what.substr(close + 1);
      size_t colon = why.find(": ");
      why = colon == std::string::npos ? "" : why.substr(colon + 2);
      size_t nl = why.find('\n');
      if (nl != std::string::npos) why = why.substr(0, nl);
      // "OpenCV(4.6.0) file.cpp:110: error: (-2:Unspecified error) Can't create layer ..." ->
      // the part after the error code; nothing when the layer type simply does not exist.
      size_t code = why.find("error: (");
      size_t close_code = code == std::string::npos ? code : why.find(") ", code);
      if (close_code != std::string::npos) why = why.substr(close_code + 2);
      if (why.rfind("Can't create layer", 0) == 0) why.clear();
      return "operator '" + op + "' (node '" + name + "') is not supported by opencv-dnn 4.6.0" +
             (why.empty() ? "" : ": " + why);
    }
  }
  std::string line = what;
  size_t error = line.find("error: ");
  if (error != std::string::npos) line = line.substr(error + 7);
  size_t nl = line.find('\n');
  if (nl != std::string::npos) line = line.substr(0, nl);
  return "opencv-dnn 4.6.0: " + line;
}

class OpenCvSession final : public Session {
 public:
  OpenCvSession(cv::dnn::Net net, tensor::ModelSignature signature)
      : net_(std::move(net)), signature_(std::move(signature)) {
    for (const auto& o : signature_.outputs) output_names_.push_back(o.name);
  }

  const tensor::ModelSignature& signature() const override { return signature_; }

  // Nothing thrown inside OpenCV (cv::Mat allocation, convertTo, forward) leaves the session.
  Result<TensorSet> Run(const TensorSet& inputs) override {
    try {
      return RunUnguarded(inputs);
    } catch (const std::bad_alloc&) {
      return ResourceExhausted("out of memory running the model");
    } catch (const cv::Exception& e) {
      return Unsupported(ExplainImportError(e.what()));
    } catch (const std::exception& e) {
      return Unsupported("opencv-dnn 4.6.0: " + FirstLine(e.what()));
    }
  }

 private:
  Result<TensorSet> RunUnguarded(const TensorSet& inputs) {
    for (const auto& t : inputs.tensors) {
      bool known = std::any_of(signature_.inputs.begin(), signature_.inputs.end(),
                               [&](const tensor::ValueInfo& v) { return v.name == t.name; });
      if (!known) return InvalidArgument("input '" + t.name + "' is not an input of the model");
    }
    std::vector<cv::Mat> mats;  // kept alive until forward() returns
    mats.reserve(signature_.inputs.size());
    for (const auto& v : signature_.inputs) {
      const NamedTensor* t = inputs.Find(v.name);
      if (t == nullptr) return InvalidArgument("input '" + v.name + "' missing");
      if (t->dtype != tensor::DType::kF32 || v.dtype != tensor::DType::kF32) {
        return InvalidArgument("input '" + v.name + "' has dtype " +
                               std::string(tensor::ToString(t->dtype)) + ", the model wants " +
                               std::string(tensor::ToString(v.dtype)) +
                               " (opencv-dnn runs F32 inputs only)");
      }
      bool shape_ok = !v.has_shape || v.dims.size() == t->dims.size();
      for (size_t i = 0; shape_ok && v.has_shape && i < v.dims.size(); ++i) {
        if (v.dims[i].size >= 0 && v.dims[i].size != t->dims[i]) shape_ok = false;
      }
      if (!shape_ok || t->element_count() == 0 ||
          t->data.size() != t->element_count() * sizeof(float)) {
        return InvalidArgument("input '" + v.name + "' has shape " + ShapeText(t->dims) +
                               ", the model wants " + ShapeText(v));
      }
      std::vector<int> sizes;
      for (int64_t d : t->dims) sizes.push_back(static_cast<int>(d));
      if (sizes.empty()) sizes.push_back(1);
      cv::Mat m(static_cast<int>(sizes.size()), sizes.data(), CV_32F);
      std::memcpy(m.data, t->data.data(), t->data.size());
      mats.push_back(m);
    }
    std::vector<cv::Mat> outs;
    try {
      for (size_t i = 0; i < mats.size(); ++i) net_.setInput(mats[i], signature_.inputs[i].name);
      net_.forward(outs, output_names_);
    } catch (const cv::Exception& e) {
      return Unsupported(ExplainImportError(e.what()));
    }
    if (outs.size() != signature_.outputs.size()) {
      return Unsupported("opencv-dnn 4.6.0 produced " + std::to_string(outs.size()) +
                         " output(s), the model declares " +
                         std::to_string(signature_.outputs.size()));
    }
    TensorSet result;
    for (size_t i = 0; i < outs.size(); ++i) {
      cv::Mat m = outs[i];
      if (m.depth() != CV_32F) m.convertTo(m, CV_32F);
      if (!m.isContinuous()) m = m.clone();
      NamedTensor t;
      t.name = signature_.outputs[i].name;
      t.dtype = tensor::DType::kF32;
      // OpenCV drops or adds unit dimensions on some outputs (e.g. [1,10] as [10]); that keeps
      // the element order, so the declared shape is reported. Any other difference from a fixed
      // declared shape means the numbers are not what the model describes: refused.
      const tensor::ValueInfo& v = signature_.outputs[i];
      std::vector<int64_t> got;
      for (int d = 0; d < m.dims; ++d) got.push_back(m.size[d]);
      bool fixed = v.has_shape;
      std::vector<int64_t> declared;
      for (const auto& d : v.dims) {
        if (d.size < 0) fixed = false;
        declared.push_back(d.size);
      }
      if (fixed) {
        uint64_t declared_count = 1;
        for (int64_t d : declared) declared_count *= static_cast<uint64_t>(d);
        if (declared_count != m.total()) {
          return Unsupported("output '" + v.name + "' has " + std::to_string(m.total()) +
                             " values, the model declares " + ShapeText(v));
        }
        if (WithoutUnitDims(got) != WithoutUnitDims(declared)) {
          return Unsupported("output '" + v.name + "' has shape " + ShapeText(got) +
                             " from opencv-dnn 4.6.0, the model declares " + ShapeText(v));
        }
        t.dims = declared;
      } else {
        t.dims = got;
      }
      t.data.assign(reinterpret_cast<const char*>(m.data), m.total() * sizeof(float));
      result.tensors.push_back(std::move(t));
    }
    std::sort(result.tensors.begin(), result.tensors.end(),
              [](const NamedTensor& a, const NamedTensor& b) { return a.name < b.name; });
    return result;
  }

  cv::dnn::Net net_;
  tensor::ModelSignature signature_;
  std::vector<std::string> output_names_;
};

class OpenCvRuntime final : public Runtime {
 public:
  std::string_view name() const override { return "opencv-dnn 4.6.0"; }

  // Nothing thrown while parsing or importing (protobuf, OpenCV, allocation) leaves Load.
  Result<std::unique_ptr<Session>> Load(const std::string& model_path,
                                        const SessionOptions& options) override {
    try {
      return LoadUnguarded(model_path, options);
    } catch (const std::bad_alloc&) {
      return ResourceExhausted("out of memory loading the model");
    } catch (const cv::Exception& e) {
      return Unsupported(ExplainImportError(e.what()));
    } catch (const std::exception& e) {
      return Corrupt("cannot load the model: " + FirstLine(e.what()));
    }
  }

 private:
  Result<std::unique_ptr<Session>> LoadUnguarded(const std::string& model_path,
                                                 const SessionOptions& options) {
    OXIDE_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(model_path, kMaxModelBytes));
    OXIDE_ASSIGN_OR_RETURN(NormalisedModel normalised, NormaliseForOpenCv(bytes));
    static std::once_flag quiet;
    // The importer logs every refusal to stderr; the refusal is returned as one line instead.
    std::call_once(quiet,
                   [] { cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT); });
    cv::setNumThreads(std::max(1, options.threads));
    cv::dnn::Net net;
    try {
      net = cv::dnn::readNetFromONNX(normalised.onnx.data(), normalised.onnx.size());
    } catch (const cv::Exception& e) {
      return Unsupported(ExplainImportError(e.what()));
    }
    if (net.empty()) return Unsupported("opencv-dnn 4.6.0 loaded an empty network");
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    // 4.6 fuses a following Power layer (x * c, x / c) into a MatMul of two activations and then
    // drops it: attention scores came out unscaled (|diff| 0.45 vs torch). Exact results first;
    // other graphs keep OpenCV's default (fused) plan.
    if (normalised.matmul_of_activations) net.enableFusion(false);
    return std::unique_ptr<Session>(
        std::make_unique<OpenCvSession>(std::move(net), std::move(normalised.signature)));
  }
};

}  // namespace

std::unique_ptr<Runtime> MakeRuntime() { return std::make_unique<OpenCvRuntime>(); }

}  // namespace oxide::inference
