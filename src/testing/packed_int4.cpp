#include "testing/packed_int4.hpp"

#include <algorithm>
#include <cmath>

#include "testing/split_mix.hpp"

namespace oxide::testing {
namespace {

int Lowest(bool is_signed) { return is_signed ? -8 : 0; }

}  // namespace

std::string PackInt4(const std::vector<int8_t>& values) {
  std::string out(values.size() / 2 + values.size() % 2, '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    const auto nibble = static_cast<uint8_t>(values[i] & 0x0f);
    out[i / 2] = static_cast<char>(static_cast<uint8_t>(out[i / 2]) | (nibble << (4 * (i % 2))));
  }
  return out;
}

std::vector<int8_t> UnpackInt4(std::string_view packed, size_t count, bool is_signed) {
  std::vector<int8_t> out(count);
  for (size_t i = 0; i < count; ++i) {
    const int nibble = (static_cast<uint8_t>(packed[i / 2]) >> (4 * (i % 2))) & 0x0f;
    out[i] = static_cast<int8_t>(is_signed && nibble >= 8 ? nibble - 16 : nibble);
  }
  return out;
}

std::vector<int8_t> RandomInt4(size_t count, uint64_t seed, bool is_signed) {
  uint64_t state = seed;
  const int lo = Lowest(is_signed);
  std::vector<int8_t> out(count);
  for (int8_t& v : out) {
    double sum = 0;  // Irwin-Hall: 12 uniforms approximate N(6, 1)
    for (int i = 0; i < 12; ++i) sum += Uniform(&state);
    const int q = static_cast<int>(std::lround((sum - 6.0) * 2.5)) + lo + 8;
    v = static_cast<int8_t>(std::clamp(q, lo, lo + 15));
  }
  return out;
}

std::vector<int8_t> RequantizeInt4(const std::vector<int8_t>& values, uint64_t seed, bool is_signed,
                                   double fraction) {
  uint64_t state = seed ^ 0x1b873593ULL;
  const int lo = Lowest(is_signed);
  std::vector<int8_t> out = values;
  for (int8_t& v : out) {
    if (Uniform(&state) >= fraction) continue;
    int step = Uniform(&state) < 0.5 ? -1 : 1;
    if (v + step < lo || v + step > lo + 15) step = -step;
    v = static_cast<int8_t>(v + step);
  }
  return out;
}

}  // namespace oxide::testing
