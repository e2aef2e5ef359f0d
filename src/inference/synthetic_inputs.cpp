#include "inference/synthetic_inputs.hpp"

#include <algorithm>
#include <cstring>

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

Result<TensorSet> Make(const tensor::ModelSignature& signature, bool random, uint64_t seed) {
  TensorSet set;
  uint64_t state = seed;
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
    uint64_t n = t.element_count();
    if (n == 0 && !t.dims.empty() &&
        std::none_of(t.dims.begin(), t.dims.end(), [](int64_t d) { return d == 0; })) {
      return Unsupported("input '" + v.name + "' is too large");
    }
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
