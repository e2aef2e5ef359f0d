#include "inference/latency.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace oxide::inference {
namespace {

double NearestRank(const std::vector<double>& sorted, double p) {
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

LatencyStats SummariseLatencies(std::vector<double> run_ms) {
  LatencyStats s;
  if (run_ms.empty()) return s;
  std::sort(run_ms.begin(), run_ms.end());
  s.runs = run_ms.size();
  s.p50_ms = NearestRank(run_ms, 50);
  s.p95_ms = NearestRank(run_ms, 95);
  s.p99_ms = NearestRank(run_ms, 99);
  s.max_ms = run_ms.back();
  double total = std::accumulate(run_ms.begin(), run_ms.end(), 0.0);
  s.mean_ms = total / static_cast<double>(s.runs);
  s.throughput_per_s = total > 0 ? static_cast<double>(s.runs) * 1000.0 / total : 0;
  return s;
}

}  // namespace oxide::inference
