#include "tensor/tensor_index.hpp"

namespace oxide::tensor {

std::string_view ToString(ModelFormat f) {
  switch (f) {
    case ModelFormat::kOnnx:
      return "onnx";
    case ModelFormat::kSafeTensors:
      return "safetensors";
    case ModelFormat::kGguf:
      return "gguf";
    case ModelFormat::kTflite:
      return "tflite";
    case ModelFormat::kUnknown:
      break;
  }
  return "unknown";
}

std::string_view ToString(DType d) {
  switch (d) {
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
    case DType::kF64:
      return "F64";
    case DType::kI8:
      return "I8";
    case DType::kI16:
      return "I16";
    case DType::kI32:
      return "I32";
    case DType::kI64:
      return "I64";
    case DType::kU8:
      return "U8";
    case DType::kU16:
      return "U16";
    case DType::kU32:
      return "U32";
    case DType::kU64:
      return "U64";
    case DType::kBool:
      return "BOOL";
    case DType::kF8E4M3:
      return "F8_E4M3";
    case DType::kF8E5M2:
      return "F8_E5M2";
    case DType::kString:
      return "STRING";
    case DType::kComplex64:
      return "C64";
    case DType::kComplex128:
      return "C128";
    case DType::kI4:
      return "I4";
    case DType::kU4:
      return "U4";
    case DType::kUnknown:
      break;
  }
  return "UNKNOWN";
}

size_t ElementWidth(DType d) {
  switch (d) {
    case DType::kF64:
    case DType::kI64:
    case DType::kU64:
    case DType::kComplex64:
      return 8;
    case DType::kComplex128:
      return 16;
    case DType::kF32:
    case DType::kI32:
    case DType::kU32:
      return 4;
    case DType::kF16:
    case DType::kBF16:
    case DType::kI16:
    case DType::kU16:
      return 2;
    case DType::kI8:
    case DType::kU8:
    case DType::kBool:
    case DType::kF8E4M3:
    case DType::kF8E5M2:
      return 1;
    case DType::kString:
    case DType::kI4:
    case DType::kU4:
    case DType::kUnknown:
      break;
  }
  return 0;
}

bool IsFloat(DType d) {
  return d == DType::kF32 || d == DType::kF16 || d == DType::kBF16 || d == DType::kF64 ||
         d == DType::kF8E4M3 || d == DType::kF8E5M2;
}

bool IsPacked4(DType d) { return d == DType::kI4 || d == DType::kU4; }

bool RawByteSize(DType d, uint64_t elements, uint64_t* bytes) {
  if (IsPacked4(d)) {
    *bytes = elements / 2 + elements % 2;  // cannot overflow, unlike (elements + 1) / 2
    return true;
  }
  const size_t width = ElementWidth(d);
  return width != 0 && !__builtin_mul_overflow(elements, uint64_t{width}, bytes);
}

bool ElementCount(const std::vector<int64_t>& dims, uint64_t* elements) {
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return false;
  }
  *elements = n;
  return true;
}

std::string_view ToString(Storage s) {
  switch (s) {
    case Storage::kRaw:
      return "raw";
    case Storage::kPackedFixed:
      return "packed_fixed";
    case Storage::kPackedVarint:
      return "packed_varint";
    case Storage::kExternal:
      return "external";
  }
  return "unknown";
}

size_t TensorInfo::group_width() const {
  if (storage != Storage::kRaw && storage != Storage::kPackedFixed) return 1;
  size_t w = ElementWidth(dtype);
  if (w == 16) w = 8;  // complex128: group by its float64 halves
  return w == 0 ? 1 : w;
}

}  // namespace oxide::tensor
