#include "inference/synthetic_inputs.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace oxide::inference {
namespace {

// splitmix64: tiny, fully specified, so `--random SEED` means the same values everywhere
// (std::uniform_real_distribution is implementation-defined).
uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr uint64_t kMaxInputBytes = uint64_t{1} << 30;

std::string ShapeText(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

Result<TensorSet> Make(const tensor::ModelSignature& signature, bool random, uint64_t seed) {
  TensorSet set;
  uint64_t state = seed;
  uint64_t total_bytes = 0;
  for (const auto& v : signature.inputs) {
    if (!v.has_shape) return Unsupported("input '" + v.name + "' declares no shape");
    size_t width = tensor::ElementWidth(v.dtype);
    if (width == 0) {
      return Unsupported("input '" + v.name + "' has dtype " + std::string(ToString(v.dtype)) +
                         " without a fixed width");
    }
    NamedTensor t;
    t.name = v.name;
    t.dtype = v.dtype;
    for (const auto& d : v.dims) t.dims.push_back(d.size >= 0 ? d.size : 1);
    // The same bound as an input file (ReadTensorSetFile); the product is checked step by step
    // so a declared [2^61+1] cannot wrap around to a small allocation.
    uint64_t bytes = width;
    for (int64_t d : t.dims) {
      if (d != 0 && bytes > kMaxInputBytes / static_cast<uint64_t>(d)) {
        return ResourceExhausted("input '" + v.name + "' " + ShapeText(t.dims) +
                                 " would need more than 1 GiB");
      }
      bytes *= static_cast<uint64_t>(d);
    }
    total_bytes += bytes;
    if (total_bytes > kMaxInputBytes) {
      return ResourceExhausted("the model's inputs would need more than 1 GiB together");
    }
    const uint64_t n = bytes / width;
    t.data.assign(n * width, '\0');
    if (random && v.dtype == tensor::DType::kF32) {
      for (uint64_t i = 0; i < n; ++i) {
        // 24 random bits -> [0, 1) exactly representable in float, then [-1, 1).
        float f = static_cast<float>(SplitMix64(&state) >> 40) * (1.0f / 16777216.0f);
        f = f * 2.0f - 1.0f;
        std::memcpy(t.data.data() + i * 4, &f, 4);
      }
    }
    set.tensors.push_back(std::move(t));
  }
  std::sort(set.tensors.begin(), set.tensors.end(),
            [](const NamedTensor& a, const NamedTensor& b) { return a.name < b.name; });
  return set;
}

}  // namespace

Result<TensorSet> ZeroInputs(const tensor::ModelSignature& signature) {
  return Make(signature, false, 0);
}

Result<TensorSet> RandomInputs(const tensor::ModelSignature& signature, uint64_t seed) {
  return Make(signature, true, seed);
}

}  // namespace oxide::inference
