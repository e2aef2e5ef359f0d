#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// Deterministic 4-bit integer tensor data for tests (same bytes on every platform and run):
// quantised weights and a "re-quantised release" of them, packed as ONNX INT4/UINT4 and TFLite
// INT4 store them (tensor::DType::kI4 / kU4: two per byte, low nibble first).
namespace oxide::testing {

// Packs values (each taken mod 16: -8..7 or 0..15) two per byte, element 2i in the low nibble of
// byte i; an odd count leaves the last high nibble 0. Returns ceil(values.size() / 2) bytes.
std::string PackInt4(const std::vector<int8_t>& values);
// The values PackInt4 packed, `count` of them (REQUIRES count <= 2 * packed.size()); signed
// nibbles are sign-extended (-8..7), unsigned ones are 0..15.
std::vector<int8_t> UnpackInt4(std::string_view packed, size_t count, bool is_signed);

// `count` quantised weights: round(N(0, 2.5^2)) clamped to -8..7 (signed) or the same plus 8,
// 0..15 (unsigned, zero point 8), like a symmetric int4 quantisation of trained weights.
std::vector<int8_t> RandomInt4(size_t count, uint64_t seed, bool is_signed);
// A re-quantised release: a `fraction` of the values, chosen by `seed`, moves one step up or
// down (towards the inside of the range at its ends).
std::vector<int8_t> RequantizeInt4(const std::vector<int8_t>& values, uint64_t seed, bool is_signed,
                                   double fraction = 0.3);

}  // namespace oxide::testing
