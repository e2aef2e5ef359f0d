// `oxide bench MODEL`: inference latency on this machine (warm-up excluded), or with
// `--coverage DIR` the table of which torch exports the runtime serves (docs/inference.md).
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.hpp"
#include "inference/coverage.hpp"
#include "inference/latency.hpp"
#include "inference/runtime.hpp"
#include "inference/synthetic_inputs.hpp"

namespace oxide::cli {
namespace {

// "x F32 [1,16]", plus "(batch=1)" for each symbolic dimension bench ran as 1.
std::string DescribeInput(const tensor::ValueInfo& v, const inference::NamedTensor& t) {
  std::string s = t.name + " " + std::string(tensor::ToString(t.dtype)) + " [";
  std::string symbols;
  for (size_t i = 0; i < t.dims.size(); ++i) {
    s += (i ? "," : "") + std::to_string(t.dims[i]);
    if (i < v.dims.size() && v.dims[i].size < 0) {
      const std::string sym = v.dims[i].symbol.empty() ? "?" : v.dims[i].symbol;
      symbols += (symbols.empty() ? "" : ", ") + sym + "=" + std::to_string(t.dims[i]);
    }
  }
  s += "]";
  if (!symbols.empty()) s += " (" + symbols + ")";
  return s;
}

}  // namespace

Status RunInferBench(const InferBenchArgs& a) {
  std::unique_ptr<inference::Runtime> runtime = inference::MakeRuntime();
  if (runtime == nullptr) {
    return Unsupported("oxide was built without inference (OXIDE_WITH_INFERENCE=OFF)");
  }
  std::FILE* out = a.out != nullptr ? a.out : stdout;
  if (!a.coverage_dir.empty()) {
    OXIDE_ASSIGN_OR_RETURN(auto rows,
                           inference::MeasureCoverage(*runtime, a.coverage_dir, a.iterations));
    std::fprintf(out, "%s", inference::CoverageTable(rows).c_str());
    return Status::Ok();
  }
  if (a.model.empty()) return InvalidArgument("bench needs a MODEL (or --coverage DIR)");
  if (a.iterations < 1 || a.warmup < 0 || a.threads < 1) {
    return InvalidArgument("--iterations and --threads must be >= 1, --warmup >= 0");
  }
  inference::SessionOptions options;
  options.threads = a.threads;
  auto session = runtime->Load(a.model, options);
  if (!session.ok()) return session.status().WithContext(a.model);
  OXIDE_ASSIGN_OR_RETURN(inference::TensorSet inputs,
                         inference::ZeroInputs((*session)->signature()));
  for (int i = 0; i < a.warmup; ++i) {
    auto r = (*session)->Run(inputs);
    if (!r.ok()) return r.status();
  }
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(a.iterations));
  for (int i = 0; i < a.iterations; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = (*session)->Run(inputs);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (!r.ok()) return r.status();
  }
  inference::LatencyStats s = inference::SummariseLatencies(std::move(ms));
  // Nearest rank: below 20 runs p95 is the slowest run, below 100 so is p99.
  const bool p95_is_max = s.runs < 20;
  const bool p99_is_max = s.runs < 100;
  const tensor::ModelSignature& sig = (*session)->signature();
  std::vector<std::string> described;
  nlohmann::ordered_json json_inputs = nlohmann::ordered_json::array();
  for (const auto& t : inputs.tensors) {
    tensor::ValueInfo declared;
    for (const auto& v : sig.inputs) {
      if (v.name == t.name) declared = v;
    }
    described.push_back(DescribeInput(declared, t));
    json_inputs.push_back(
        {{"name", t.name}, {"dtype", std::string(tensor::ToString(t.dtype))}, {"shape", t.dims}});
  }
  if (a.json) {
    nlohmann::ordered_json j = {{"model", a.model},
                                {"runtime", std::string(runtime->name())},
                                {"threads", a.threads},
                                {"warmup", a.warmup},
                                {"iterations", a.iterations},
                                {"runs", s.runs},
                                {"inputs", json_inputs},
                                {"p50_ms", s.p50_ms},
                                {"p95_ms", s.p95_ms},
                                {"p99_ms", s.p99_ms},
                                {"p95_is_max", p95_is_max},
                                {"p99_is_max", p99_is_max},
                                {"max_ms", s.max_ms},
                                {"mean_ms", s.mean_ms},
                                {"throughput_per_s", s.throughput_per_s}};
    std::fprintf(out, "%s\n", j.dump().c_str());
    return Status::Ok();
  }
  std::fprintf(out, "%s: %s, %d thread(s), %zu runs after %d warm-up\n", a.model.c_str(),
               std::string(runtime->name()).c_str(), a.threads, s.runs, a.warmup);
  std::string joined;
  for (const auto& d : described) joined += (joined.empty() ? "" : "; ") + d;
  std::fprintf(out, "inputs: %s\n", joined.c_str());
  std::fprintf(out, "latency p50 %.3f ms  p95 %.3f ms  p99 %.3f ms  max %.3f ms\n", s.p50_ms,
               s.p95_ms, s.p99_ms, s.max_ms);
  if (p99_is_max) {
    std::fprintf(out, "note: %sp99 = max (n<100); run more iterations for tail latencies\n",
                 p95_is_max ? "p95 = max (n<20), " : "");
  }
  std::fprintf(out, "throughput %.1f inferences/s\n", s.throughput_per_s);
  return Status::Ok();
}

}  // namespace oxide::cli
