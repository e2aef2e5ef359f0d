#include "inference/coverage.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

#include "base/file_util.hpp"
#include "inference/golden.hpp"
#include "inference/latency.hpp"

namespace oxide::inference {

double MaxAbsDiff(const TensorSet& expected, const TensorSet& actual) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double worst = 0;
  for (const auto& e : expected.tensors) {
    const NamedTensor* a = actual.Find(e.name);
    if (a == nullptr || a->dtype != tensor::DType::kF32 || e.dtype != tensor::DType::kF32 ||
        a->data.size() != e.data.size()) {
      return kInf;
    }
    for (size_t i = 0; i < e.data.size(); i += 4) {
      float x, y;
      std::memcpy(&x, e.data.data() + i, 4);
      std::memcpy(&y, a->data.data() + i, 4);
      double d = std::fabs(static_cast<double>(x) - static_cast<double>(y));
      if (std::isnan(d)) return kInf;
      worst = std::max(worst, d);
    }
  }
  return worst;
}

Result<std::vector<CoverageRow>> MeasureCoverage(Runtime& runtime, const std::string& dir,
                                                 int iterations) {
  std::vector<std::string> models;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".onnx") models.push_back(entry.path().string());
  }
  if (ec) return NotFound("cannot list " + dir + ": " + ec.message());
  if (models.empty()) return NotFound("no .onnx fixtures in " + dir);
  std::sort(models.begin(), models.end());
  std::vector<CoverageRow> rows;
  for (const std::string& path : models) {
    CoverageRow row;
    std::string stem = std::filesystem::path(path).stem().string();
    size_t op = stem.rfind("-op");
    row.arch = op == std::string::npos ? stem : stem.substr(0, op);
    row.opset = op == std::string::npos ? 0 : std::atoi(stem.c_str() + op + 3);
    auto golden_bytes = ReadFileToString(path.substr(0, path.size() - 5) + ".golden.safetensors");
    if (!golden_bytes.ok()) return golden_bytes.status().WithContext(path);
    OXIDE_ASSIGN_OR_RETURN(Golden golden, ParseGolden(*golden_bytes));
    auto session = runtime.Load(path, SessionOptions{});
    if (!session.ok()) {
      row.reason = session.status().message();
      rows.push_back(std::move(row));
      continue;
    }
    row.loads = true;
    auto out = (*session)->Run(golden.inputs);  // the warm-up run is also the checked one
    if (!out.ok()) {
      row.reason = out.status().message();
      rows.push_back(std::move(row));
      continue;
    }
    row.runs = true;
    row.max_abs_diff = MaxAbsDiff(golden.outputs, *out);
    std::vector<double> ms;
    for (int i = 0; i < iterations; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      auto r = (*session)->Run(golden.inputs);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      if (!r.ok()) break;
    }
    row.p50_ms = SummariseLatencies(ms).p50_ms;
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string CoverageTable(const std::vector<CoverageRow>& rows) {
  std::string s =
      "| architecture | opset | loads | max abs diff vs torch | within 1e-4 | p50 latency |\n"
      "|---|---|---|---|---|---|\n";
  char buf[512];
  for (const auto& r : rows) {
    std::string loads = r.runs ? "yes" : (r.loads ? "loads, run fails: " : "no: ") + r.reason;
    if (r.runs) {
      std::snprintf(buf, sizeof buf, "| %s | %d | %s | %.3g | %s | %.3f ms |\n", r.arch.c_str(),
                    r.opset, loads.c_str(), r.max_abs_diff, r.max_abs_diff <= 1e-4 ? "yes" : "no",
                    r.p50_ms);
    } else {
      std::snprintf(buf, sizeof buf, "| %s | %d | %s | - | no | - |\n", r.arch.c_str(), r.opset,
                    loads.c_str());
    }
    s += buf;
  }
  return s;
}

}  // namespace oxide::inference
