#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "agent/health_check.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"
#include "inference/runtime.hpp"
#include "tensor/model_signature.hpp"

namespace oxide::agent {

// The graph signature of a model file; nullopt when its format has no graph (SafeTensors).
using SignatureReader =
    std::function<Result<std::optional<tensor::ModelSignature>>(const std::string& path)>;
// Reads the file and calls tensor::SummariseModel (the bounded wire walker, no runtime).
Result<std::optional<tensor::ModelSignature>> ReadModelSignature(const std::string& path);

struct InferenceCheckOptions {
  int warmup_runs = 2;  // not timed (first-run allocations, caches)
  int timed_runs = 20;  // p95 over these; at least kMinTimedRuns
};

// `--health-check builtin:inference` (issue #11): after the built-in check (size, SHA-256,
// format), the activated model
//   1. has the signature of the model it replaces (read from the backup), unless the campaign
//      allows a change: "input 'x' shape changed: [1,4] -> [1,8]";
//   2. loads with `runtime`;
//   3. runs on the golden inputs (zeros built from its signature without a golden file) with
//      finite outputs within the golden tolerance: "output 'y' has NaN at index 3";
//   4. has a p95 latency over the timed runs within the golden latency budget, if any:
//      "p95 41.2 ms > budget 25 ms".
// The first failure is the report's detail, verbatim. Latency is measured with `clock`.
// `runtime` and `clock` must outlive the checker.
class InferenceHealthChecker final : public HealthChecker {
 public:
  InferenceHealthChecker(inference::Runtime& runtime, const Clock& clock,
                         SignatureReader read_signature = ReadModelSignature,
                         InferenceCheckOptions options = {})
      : runtime_(runtime),
        clock_(clock),
        read_signature_(std::move(read_signature)),
        options_(options) {}
  Result<HealthReport> Check(const HealthCheckRequest& request) override;

 private:
  inference::Runtime& runtime_;
  const Clock& clock_;
  SignatureReader read_signature_;
  InferenceCheckOptions options_;
};

}  // namespace oxide::agent
