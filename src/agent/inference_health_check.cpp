#include "agent/inference_health_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "base/file_util.hpp"
#include "base/sha256.hpp"
#include "inference/golden.hpp"
#include "tensor/tensor_index.hpp"

namespace oxide::agent {
namespace {

constexpr size_t kMaxGoldenBytes = size_t{64} << 20;
// With fewer runs the nearest-rank p95 is the slowest run: one hiccup of the device (another
// process, a page fault) would fail a good model. 20 runs let one outlier pass.
constexpr int kMinTimedRuns = 20;

HealthReport LocalFault(std::string why) { return HealthReport{false, std::move(why), true}; }

// Errors of the device, not of the model: the file could not be read or memory ran out.
bool IsLocal(const Status& st) {
  return st.code() == ErrorCode::kIo || st.code() == ErrorCode::kResourceExhausted;
}

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
  // Mapped, not read: the walker skips tensor data, so only the graph's pages are loaded and a
  // large model never sits in the device's memory.
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
      if (!after.ok() && IsLocal(after.status())) {
        return LocalFault("cannot read the model's signature: " + after.status().message());
      }
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
  if (!session.ok() && IsLocal(session.status())) {
    return LocalFault("model could not be loaded on this device: " + session.status().ToString());
  }
  if (!session.ok()) {
    return Unhealthy("model does not load with " + std::string(runtime_.name()) + ": " +
                     session.status().message());
  }

  // 3. Runs on the golden inputs (or zeros) with finite outputs within tolerance.
  std::optional<inference::Golden> golden;
  inference::TensorSet inputs;
  if (!request.golden_path.empty()) {
    auto bytes = ReadFileToString(request.golden_path, kMaxGoldenBytes);
    if (!bytes.ok()) return LocalFault("golden file unreadable: " + bytes.status().message());
    // Checked when fetched; damaged since on the device (flash wear, a torn write) it is the
    // device's problem, not the model's: the next attempt fetches it again.
    if (!request.golden_sha256.empty() && ToHex(Sha256::Of(*bytes)) != request.golden_sha256) {
      return LocalFault("golden file on the device does not match its SHA-256");
    }
    auto parsed = inference::ParseGolden(*bytes);
    if (!parsed.ok()) return Unhealthy("golden file refused: " + parsed.status().message());
    golden = std::move(parsed).value();
    inputs = golden->inputs;
  } else {
    // A model without declared (or with huge) input shapes is a valid model: the check cannot
    // run it without a golden file, which is not the model's fault.
    auto zeros = ZeroInputs((*session)->signature());
    if (!zeros.ok()) return LocalFault(zeros.status().message());
    inputs = std::move(zeros).value();
  }
  const int warmup = std::max(options_.warmup_runs, 0);
  const int timed = std::max(options_.timed_runs, kMinTimedRuns);
  // Runs `n` times; the first run's outputs are compared, the latencies of the others kept.
  auto run_timed = [&](int n, bool compare, std::vector<double>* latencies_ms) -> std::string {
    for (int run = 0; run < n; ++run) {
      const Clock::Duration start = clock_.Now();
      auto outputs = (*session)->Run(inputs);
      const Clock::Duration took = clock_.Now() - start;
      if (!outputs.ok()) return "inference failed: " + outputs.status().message();
      if (compare && run == 0) {
        // Without a golden file, comparing the outputs with themselves checks only that they
        // are finite (a finite value differs from itself by 0).
        std::string why =
            golden ? inference::CompareOutputs(golden->outputs, *outputs, golden->tolerance)
                   : inference::CompareOutputs(*outputs, *outputs,
                                               std::numeric_limits<double>::infinity());
        if (!why.empty()) return why;
      }
      if (latencies_ms != nullptr) {
        latencies_ms->push_back(std::chrono::duration<double, std::milli>(took).count());
      }
    }
    return "";
  };
  std::vector<double> latencies_ms;
  if (std::string why = run_timed(warmup, true, nullptr); !why.empty()) return Unhealthy(why);
  if (std::string why = run_timed(timed, warmup == 0, &latencies_ms); !why.empty()) {
    return Unhealthy(why);
  }

  // 4. Within the latency budget.
  double p95 = P95(latencies_ms);
  if (golden && golden->latency_budget_ms && p95 > *golden->latency_budget_ms) {
    // Measured once more before failing: a busy moment of the device (an update being written,
    // the application's own load) is not the model's speed.
    latencies_ms.clear();
    if (std::string why = run_timed(timed, false, &latencies_ms); !why.empty()) {
      return Unhealthy(why);
    }
    p95 = P95(latencies_ms);
  }
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
