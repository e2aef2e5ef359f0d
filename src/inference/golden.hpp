#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "inference/tensor_set.hpp"

namespace oxide::inference {

// Golden check of one model version: inputs, the outputs the build machine computed for them,
// how close a device must come, and how fast it must be. On disk one SafeTensors file: tensors
// "input.<name>" and "output.<name>", `__metadata__` keys "oxide.golden" = "1",
// "tolerance" (absolute, default 1e-4) and optionally "latency_budget_ms" (p95 over the runs).
struct Golden {
  TensorSet inputs;   // names without the "input." prefix
  TensorSet outputs;  // names without the "output." prefix
  double tolerance = 1e-4;
  std::optional<double> latency_budget_ms;
};

// kCorrupt for a malformed file, kInvalidArgument for a well-formed SafeTensors file that is not a
// golden file (no marker, no inputs, a tensor without the prefixes, a bad number).
Result<Golden> ParseGolden(std::string_view bytes);
Result<std::string> SerializeGolden(const Golden& golden);

// Compares what a device computed with the golden outputs. Empty when every expected output is
// present, has the same shape, is finite and within `tolerance`; otherwise the first failure as a
// reason a person reads, e.g. "output 'y' has NaN at index 3",
// "output 'y' differs by 0.31 > tolerance 0.0001 at index 7", "output 'y' missing".
std::string CompareOutputs(const TensorSet& expected, const TensorSet& actual, double tolerance);

}  // namespace oxide::inference
