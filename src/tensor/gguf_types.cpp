#include "tensor/gguf_types.hpp"

namespace oxide::tensor::internal {
namespace {

// Block sizes and byte sizes from ggml's block structs (ggml-common.h); QK_K = 256.
constexpr GgmlTypeInfo kTypes[] = {
    {0, "F32", 1, 4, DType::kF32},
    {1, "F16", 1, 2, DType::kF16},
    {2, "Q4_0", 32, 18, DType::kUnknown},
    {3, "Q4_1", 32, 20, DType::kUnknown},
    {6, "Q5_0", 32, 22, DType::kUnknown},
    {7, "Q5_1", 32, 24, DType::kUnknown},
    {8, "Q8_0", 32, 34, DType::kUnknown},
    {9, "Q8_1", 32, 36, DType::kUnknown},
    {10, "Q2_K", 256, 84, DType::kUnknown},
    {11, "Q3_K", 256, 110, DType::kUnknown},
    {12, "Q4_K", 256, 144, DType::kUnknown},
    {13, "Q5_K", 256, 176, DType::kUnknown},
    {14, "Q6_K", 256, 210, DType::kUnknown},
    {15, "Q8_K", 256, 292, DType::kUnknown},
    {16, "IQ2_XXS", 256, 66, DType::kUnknown},
    {17, "IQ2_XS", 256, 74, DType::kUnknown},
    {18, "IQ3_XXS", 256, 98, DType::kUnknown},
    {19, "IQ1_S", 256, 50, DType::kUnknown},
    {20, "IQ4_NL", 32, 18, DType::kUnknown},
    {21, "IQ3_S", 256, 110, DType::kUnknown},
    {22, "IQ2_S", 256, 82, DType::kUnknown},
    {23, "IQ4_XS", 256, 136, DType::kUnknown},
    {24, "I8", 1, 1, DType::kI8},
    {25, "I16", 1, 2, DType::kI16},
    {26, "I32", 1, 4, DType::kI32},
    {27, "I64", 1, 8, DType::kI64},
    {28, "F64", 1, 8, DType::kF64},
    {29, "IQ1_M", 256, 56, DType::kUnknown},
    {30, "BF16", 1, 2, DType::kBF16},
    {34, "TQ1_0", 256, 54, DType::kUnknown},
    {35, "TQ2_0", 256, 66, DType::kUnknown},
    {39, "MXFP4", 32, 17, DType::kUnknown},
};

}  // namespace

const GgmlTypeInfo* FindGgmlType(uint32_t id) {
  for (const GgmlTypeInfo& t : kTypes) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

}  // namespace oxide::tensor::internal
