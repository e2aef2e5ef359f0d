#include "inference/golden.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace oxide::inference {
namespace {

constexpr std::string_view kInputPrefix = "input.";
constexpr std::string_view kOutputPrefix = "output.";

Result<double> ParsePositive(const std::string& key, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno != 0 || !std::isfinite(v) ||
      v < 0) {
    return InvalidArgument("golden file: " + key + " '" + text + "' is not a non-negative number");
  }
  return v;
}

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

}  // namespace

Result<Golden> ParseGolden(std::string_view bytes) {
  OXIDE_ASSIGN_OR_RETURN(TensorSet set, ParseTensorSet(bytes));
  Golden g;
  bool marked = false;
  for (const auto& [key, value] : set.metadata) {
    if (key == "oxide.golden") {
      if (value != "1") return InvalidArgument("golden file: unknown version '" + value + "'");
      marked = true;
    } else if (key == "tolerance") {
      OXIDE_ASSIGN_OR_RETURN(g.tolerance, ParsePositive(key, value));
    } else if (key == "latency_budget_ms") {
      OXIDE_ASSIGN_OR_RETURN(double budget, ParsePositive(key, value));
      g.latency_budget_ms = budget;
    }
  }
  if (!marked) return InvalidArgument("not a golden file: no \"oxide.golden\" metadata");
  for (auto& t : set.tensors) {
    std::string_view name = t.name;
    TensorSet* dst = nullptr;
    if (name.substr(0, kInputPrefix.size()) == kInputPrefix) {
      name.remove_prefix(kInputPrefix.size());
      dst = &g.inputs;
    } else if (name.substr(0, kOutputPrefix.size()) == kOutputPrefix) {
      name.remove_prefix(kOutputPrefix.size());
      dst = &g.outputs;
    }
    if (dst == nullptr || name.empty()) {
      return InvalidArgument("golden file: tensor '" + t.name +
                             "' is neither input.<name> nor output.<name>");
    }
    t.name = std::string(name);
    dst->tensors.push_back(std::move(t));
  }
  if (g.inputs.tensors.empty()) return InvalidArgument("golden file: no input tensors");
  if (g.outputs.tensors.empty()) return InvalidArgument("golden file: no output tensors");
  return g;
}

Result<std::string> SerializeGolden(const Golden& golden) {
  TensorSet set;
  for (const auto& t : golden.inputs.tensors) {
    set.tensors.push_back(t);
    set.tensors.back().name = std::string(kInputPrefix) + t.name;
  }
  for (const auto& t : golden.outputs.tensors) {
    set.tensors.push_back(t);
    set.tensors.back().name = std::string(kOutputPrefix) + t.name;
  }
  set.metadata.emplace_back("oxide.golden", "1");
  if (golden.latency_budget_ms) {
    set.metadata.emplace_back("latency_budget_ms", Number(*golden.latency_budget_ms));
  }
  set.metadata.emplace_back("tolerance", Number(golden.tolerance));
  return SerializeTensorSet(set);
}

std::string CompareOutputs(const TensorSet&, const TensorSet&, double) {
  return "output comparison is not implemented yet";  // placeholder: issue #11, helper "golden"
}

}  // namespace oxide::inference
