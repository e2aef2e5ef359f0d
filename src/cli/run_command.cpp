// `oxide run MODEL`: one CPU inference through the runtime compiled in (inference::MakeRuntime).
#include <chrono>
#include <cinttypes>
#include <cstring>
#include <string>

#include "base/file_util.hpp"
#include "cli/commands.hpp"
#include "inference/golden.hpp"
#include "inference/runtime.hpp"
#include "inference/synthetic_inputs.hpp"

namespace oxide::cli {
namespace {

std::string Shape(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

// "y F32 [1,10]: 0.1234, -0.5, ... (10 values)": enough to eyeball a result.
std::string Preview(const inference::NamedTensor& t) {
  std::string s = t.name + " " + std::string(tensor::ToString(t.dtype)) + " " + Shape(t.dims);
  if (t.dtype != tensor::DType::kF32) return s;
  const size_t n = t.data.size() / 4;
  s += ":";
  char buf[32];
  for (size_t i = 0; i < n && i < 8; ++i) {
    float f;
    std::memcpy(&f, t.data.data() + i * 4, 4);
    std::snprintf(buf, sizeof buf, "%s %.6g", i ? "," : "", static_cast<double>(f));
    s += buf;
  }
  if (n > 8) s += ", ... (" + std::to_string(n) + " values)";
  return s;
}

}  // namespace

Status RunModel(const RunArgs& a) {
  std::unique_ptr<inference::Runtime> runtime = inference::MakeRuntime();
  if (runtime == nullptr) {
    return Unsupported("oxide was built without inference (OXIDE_WITH_INFERENCE=OFF)");
  }
  if (a.tolerance < 0 || a.latency_budget_ms < 0) {
    return InvalidArgument("--tolerance and --latency-budget-ms must not be negative");
  }
  auto session = runtime->Load(a.model, inference::SessionOptions{});
  if (!session.ok()) return session.status().WithContext(a.model);
  const tensor::ModelSignature& sig = (*session)->signature();

  Result<inference::TensorSet> inputs = Unsupported("no inputs");
  if (!a.input.empty()) {
    inputs = inference::ReadTensorSetFile(a.input);
    if (!inputs.ok()) return inputs.status().WithContext("input file " + a.input);
  } else if (a.has_seed) {
    inputs = inference::RandomInputs(sig, a.seed);
  } else {
    inputs = inference::ZeroInputs(sig);
  }
  if (!inputs.ok()) return inputs.status();
  auto t0 = std::chrono::steady_clock::now();
  auto outputs = (*session)->Run(*inputs);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!outputs.ok()) return outputs.status();

  std::FILE* out = a.out != nullptr ? a.out : stdout;
  // One run, the first of the session: it includes OpenCV's one-time setup (buffer allocation,
  // layer initialisation), so it is labelled rather than passed off as the inference latency
  // (`oxide bench` measures that, after warm-up).
  std::fprintf(out, "%s: %zu output(s) in %.3f ms (first run, incl. one-time setup; %s)\n",
               a.model.c_str(), outputs->tensors.size(), ms, std::string(runtime->name()).c_str());
  for (const auto& t : outputs->tensors) std::fprintf(out, "  %s\n", Preview(t).c_str());
  if (!a.output.empty()) {
    OXIDE_RETURN_IF_ERROR(inference::WriteTensorSetFile(a.output, *outputs));
    std::fprintf(out, "outputs written to %s\n", a.output.c_str());
  }
  if (!a.golden.empty()) {
    inference::Golden golden;
    golden.inputs = *inputs;
    golden.outputs = *outputs;
    golden.tolerance = a.tolerance;
    if (a.latency_budget_ms > 0) golden.latency_budget_ms = a.latency_budget_ms;
    OXIDE_ASSIGN_OR_RETURN(std::string bytes, inference::SerializeGolden(golden));
    OXIDE_RETURN_IF_ERROR(AtomicWriteFile(a.golden, bytes));
    std::fprintf(out, "golden file written to %s\n", a.golden.c_str());
  }
  return Status::Ok();
}

}  // namespace oxide::cli
