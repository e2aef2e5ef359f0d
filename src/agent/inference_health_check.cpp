#include "agent/inference_health_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "base/file_util.hpp"
#include "inference/golden.hpp"
#include "tensor/tensor_index.hpp"

namespace oxide::agent {
namespace {

constexpr size_t kMaxGoldenBytes = size_t{64} << 20;

std::string Ms(double ms, const char* format) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), format, ms);
  return buf;
}

HealthReport Unhealthy(std::string why) { return HealthReport{false, std::move(why)}; }

// Zeros for every graph input; symbolic dims become 1 (a batch of one).
Result<inference::TensorSet> ZeroInputs(const tensor::ModelSignature& signature) {
  inference::TensorSet set;
  for (const auto& in : signature.inputs) {
    if (!in.has_shape) {
      return InvalidArgument("input '" + in.name +
                             "' declares no shape: zeros cannot be built (upload a golden file)");
    }
    const size_t width = tensor::ElementWidth(in.dtype);
    if (width == 0) {
      return InvalidArgument("input '" + in.name + "' has dtype " +
                             std::string(tensor::ToString(in.dtype)) +
                             ": zeros cannot be built (upload a golden file)");
    }
    inference::NamedTensor t;
    t.name = in.name;
    t.dtype = in.dtype;
    for (const auto& d : in.dims) t.dims.push_back(d.size >= 0 ? d.size : 1);
    const uint64_t count = t.element_count();
    if (count * width > kMaxGoldenBytes) {
      return InvalidArgument("input '" + in.name + "' is too large for a zeros run");
    }
    t.data.assign(count * width, '\0');
    set.tensors.push_back(std::move(t));
  }
  return set;
}

double P95(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  // Nearest rank: the smallest value with at least 95% of the runs at or below it.
  const size_t rank = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(ms.size())));
  return ms[std::max<size_t>(rank, 1) - 1];
}

}  // namespace

Result<std::optional<tensor::ModelSignature>> ReadModelSignature(const std::string& path) {
  // Mapped, not read: a multi-GB file of weights must not be copied into memory to learn that
  // it has no graph.
  OXIDE_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, MappedFile::Open(path));
  const std::string_view bytes = file->view();
  OXIDE_ASSIGN_OR_RETURN(tensor::GraphSummary summary,
                         tensor::SummariseModel(bytes, tensor::DetectFormat(bytes)));
  if (!summary.has_graph) return std::optional<tensor::ModelSignature>();
  return std::optional<tensor::ModelSignature>(std::move(summary.signature));
}

Result<HealthReport> InferenceHealthChecker::Check(const HealthCheckRequest& request) {
  if (request.at_rest_key != nullptr) {
    return HealthReport{false, "builtin:inference cannot run a model encrypted at rest", true};
  }
  BuiltinHealthChecker builtin;
  OXIDE_ASSIGN_OR_RETURN(HealthReport basic, builtin.Check(request));
  if (!basic.healthy) return basic;

  // 1. The signature the device expects: the one of the model this version replaces.
  if (!request.signature_change_allowed && !request.previous_model_path.empty()) {
    // A previous model without a readable graph (another format, a file this agent cannot
    // parse) sets no expectation.
    auto before = read_signature_(request.previous_model_path);
    if (before.ok() && *before) {
      auto after = read_signature_(request.model_path);
      if (!after.ok()) {
        return Unhealthy("cannot read the model's signature: " + after.status().message());
      }
      if (!*after) return Unhealthy("the model has no graph; the version it replaces had one");
      std::vector<std::string> changes = tensor::DescribeSignatureChange(**before, **after);
      if (!changes.empty()) return Unhealthy(changes.front());
    }
  }

  // Only an ONNX graph can be run. Weights-only formats (SafeTensors, GGUF) and opaque files have
  // nothing to run, and TFLite is not what the runtime loads: the check says so and passes (the
  // built-in check above already verified hash, size and format). Found from the first bytes of
  // the mapped file, so a large file is not read.
  {
    auto mapped = MappedFile::Open(request.model_path);
    if (!mapped.ok()) {
      return HealthReport{false, "cannot map the model: " + mapped.status().message(), true};
    }
    const tensor::ModelFormat format = tensor::ClaimedFormat((*mapped)->view());
    if (format == tensor::ModelFormat::kTflite) {
      return HealthReport{
          true, "inference check skipped: tflite is not run by " + std::string(runtime_.name())};
    }
    if (format != tensor::ModelFormat::kOnnx) {
      const std::string what = format == tensor::ModelFormat::kUnknown
                                   ? std::string("an opaque file")
                                   : std::string(tensor::ToString(format));
      return HealthReport{true, "inference check skipped: " + what + " has no graph"};
    }
  }

  // 2. Loads.
  auto session = runtime_.Load(request.model_path, inference::SessionOptions{});
  if (!session.ok()) {
    return Unhealthy("model does not load with " + std::string(runtime_.name()) + ": " +
                     session.status().message());
  }

  // 3. Runs on the golden inputs (or zeros) with finite outputs within tolerance.
  std::optional<inference::Golden> golden;
  inference::TensorSet inputs;
  if (!request.golden_path.empty()) {
    auto bytes = ReadFileToString(request.golden_path, kMaxGoldenBytes);
    if (!bytes.ok()) {
      return HealthReport{false, "golden file unreadable: " + bytes.status().message(), true};
    }
    auto parsed = inference::ParseGolden(*bytes);
    if (!parsed.ok()) return Unhealthy("golden file refused: " + parsed.status().message());
    golden = std::move(parsed).value();
    inputs = golden->inputs;
  } else {
    auto zeros = ZeroInputs((*session)->signature());
    if (!zeros.ok()) return Unhealthy(zeros.status().message());
    inputs = std::move(zeros).value();
  }
  const int warmup = std::max(options_.warmup_runs, 0);
  const int timed = std::max(options_.timed_runs, 1);
  std::vector<double> latencies_ms;
  for (int run = 0; run < warmup + timed; ++run) {
    const Clock::Duration start = clock_.Now();
    auto outputs = (*session)->Run(inputs);
    const Clock::Duration took = clock_.Now() - start;
    if (!outputs.ok()) return Unhealthy("inference failed: " + outputs.status().message());
    if (run == 0) {
      // Without a golden file, comparing the outputs with themselves checks only that they are
      // finite (a finite value differs from itself by 0).
      std::string why =
          golden ? inference::CompareOutputs(golden->outputs, *outputs, golden->tolerance)
                 : inference::CompareOutputs(*outputs, *outputs,
                                             std::numeric_limits<double>::infinity());
      if (!why.empty()) return Unhealthy(why);
    }
    if (run >= warmup) {
      latencies_ms.push_back(std::chrono::duration<double, std::milli>(took).count());
    }
  }

  // 4. Within the latency budget.
  const double p95 = P95(latencies_ms);
  std::string detail = "inference check (" + std::string(runtime_.name()) + "): " +
                       (golden ? "golden outputs within " + Ms(golden->tolerance, "%g")
                               : std::string("finite outputs on zeros")) +
                       ", p95 " + Ms(p95, "%.1f") + " ms over " + std::to_string(timed) + " runs";
  if (golden && golden->latency_budget_ms) {
    const double budget = *golden->latency_budget_ms;
    if (p95 > budget) {
      return Unhealthy("p95 " + Ms(p95, "%.1f") + " ms > budget " + Ms(budget, "%g") + " ms");
    }
    detail += " (budget " + Ms(budget, "%g") + " ms)";
  }
  return HealthReport{true, detail};
}

}  // namespace oxide::agent
