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
  if (a.json) {
    nlohmann::ordered_json j = {{"model", a.model},
                                {"runtime", std::string(runtime->name())},
                                {"threads", a.threads},
                                {"warmup", a.warmup},
                                {"iterations", a.iterations},
                                {"p50_ms", s.p50_ms},
                                {"p95_ms", s.p95_ms},
                                {"p99_ms", s.p99_ms},
                                {"max_ms", s.max_ms},
                                {"mean_ms", s.mean_ms},
                                {"throughput_per_s", s.throughput_per_s}};
    std::fprintf(out, "%s\n", j.dump().c_str());
    return Status::Ok();
  }
  std::fprintf(out, "%s: %s, %d thread(s), %d runs after %d warm-up\n", a.model.c_str(),
               std::string(runtime->name()).c_str(), a.threads, a.iterations, a.warmup);
  std::fprintf(out, "latency p50 %.3f ms  p95 %.3f ms  p99 %.3f ms  max %.3f ms\n", s.p50_ms,
               s.p95_ms, s.p99_ms, s.max_ms);
  std::fprintf(out, "throughput %.1f inferences/s\n", s.throughput_per_s);
  return Status::Ok();
}

}  // namespace oxide::cli
