#pragma once

#include <cstddef>
#include <vector>

namespace oxide::inference {

// Latency figures over timed runs (warm-up runs are not passed in).
struct LatencyStats {
  size_t runs = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;
  double throughput_per_s = 0;  // runs / total time
};

// Nearest-rank percentiles (the value a run actually took, never an interpolation).
LatencyStats SummariseLatencies(std::vector<double> run_ms);

}  // namespace oxide::inference
