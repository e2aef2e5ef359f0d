#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "inference/runtime.hpp"

namespace oxide::inference {

// One fixture of the coverage table: <arch>-op<opset>.onnx beside its golden file
// <arch>-op<opset>.golden.safetensors (tests/models/generate.py writes both).
struct CoverageRow {
  std::string arch;
  int opset = 0;
  bool loads = false;
  bool runs = false;
  std::string reason;        // why it does not load or run (one line); empty otherwise
  double max_abs_diff = -1;  // vs torch's output; -1 when it did not run
  double p50_ms = 0;         // over `iterations` timed runs after one warm-up
};

// Loads and runs every fixture in `dir` (sorted by name). kNotFound when `dir` holds none.
Result<std::vector<CoverageRow>> MeasureCoverage(Runtime& runtime, const std::string& dir,
                                                 int iterations);

// Max |expected - actual| over every output of `expected`; +inf when an output is missing, of
// another size, or not F32.
double MaxAbsDiff(const TensorSet& expected, const TensorSet& actual);

// The Markdown table docs/inference.md publishes.
std::string CoverageTable(const std::vector<CoverageRow>& rows);

}  // namespace oxide::inference
