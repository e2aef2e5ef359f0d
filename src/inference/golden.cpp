#include "inference/golden.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

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

std::string Short(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

std::string Dims(const std::vector<int64_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(dims[i]);
  }
  return out + "]";
}

double LoadF32(const char* p) {
  float v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

double LoadF64(const char* p) {
  double v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

uint16_t LoadU16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) | (static_cast<uint8_t>(p[1]) << 8));
}

double LoadBF16(const char* p) {
  const uint32_t bits = static_cast<uint32_t>(LoadU16(p)) << 16;
  float v;
  std::memcpy(&v, &bits, sizeof(v));
  return v;
}

// IEEE 754 binary16, decoded by hand (no _Float16 needed on the device).
double LoadF16(const char* p) {
  const uint16_t h = LoadU16(p);
  const int sign = (h >> 15) ? -1 : 1;
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 0x1f) {
    return mantissa == 0 ? sign * std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::quiet_NaN();
  }
  return sign * std::ldexp(mantissa + 1024, exponent - 25);
}

using Decoder = double (*)(const char*);

std::optional<Decoder> DecoderFor(tensor::DType d) {
  switch (d) {
    case tensor::DType::kF32:
      return &LoadF32;
    case tensor::DType::kF64:
      return &LoadF64;
    case tensor::DType::kF16:
      return &LoadF16;
    case tensor::DType::kBF16:
      return &LoadBF16;
    default:
      return std::nullopt;
  }
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

std::string CompareOutputs(const TensorSet& expected, const TensorSet& actual, double tolerance) {
  for (const NamedTensor& want : expected.tensors) {
    const std::string what = "output '" + want.name + "'";
    const NamedTensor* got = actual.Find(want.name);
    if (got == nullptr) return what + " missing";
    if (got->dtype != want.dtype) {
      return what + " dtype changed: " + std::string(tensor::ToString(want.dtype)) + " -> " +
             std::string(tensor::ToString(got->dtype));
    }
    if (got->dims != want.dims) {
      return what + " shape changed: " + Dims(want.dims) + " -> " + Dims(got->dims);
    }
    const size_t width = tensor::ElementWidth(want.dtype);
    const uint64_t count = want.element_count();
    if (width == 0 || want.data.size() != count * width || got->data.size() != count * width) {
      return what + " has " + std::to_string(got->data.size()) + " bytes for shape " +
             Dims(want.dims) + " of " + std::string(tensor::ToString(want.dtype));
    }
    const std::optional<Decoder> decode = DecoderFor(want.dtype);
    if (!decode) {
      // Integers, booleans and anything else without a float reading: bit-exact.
      for (uint64_t i = 0; i < count; ++i) {
        if (std::memcmp(want.data.data() + i * width, got->data.data() + i * width, width) != 0) {
          return what + " differs at index " + std::to_string(i);
        }
      }
      continue;
    }
    for (uint64_t i = 0; i < count; ++i) {
      const double a = (*decode)(got->data.data() + i * width);
      if (std::isnan(a)) return what + " has NaN at index " + std::to_string(i);
      if (std::isinf(a)) return what + " has Inf at index " + std::to_string(i);
      const double e = (*decode)(want.data.data() + i * width);
      const double diff = std::fabs(a - e);
      // !(diff <= tol) also catches a non-finite expected value.
      if (!(diff <= tolerance)) {
        return what + " differs by " + Short(diff) + " > tolerance " + Short(tolerance) +
               " at index " + std::to_string(i);
      }
    }
  }
  return "";
}

}  // namespace oxide::inference
