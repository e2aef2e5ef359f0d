#pragma once

#include <cstdint>
#include <iterator>

#include "tensor/tensor_index.hpp"

// onnx.proto field numbers and enum values the ONNX indexer follows (checked against the
// upstream onnx.proto). Private to src/tensor.
namespace oxide::tensor::internal {

// Field numbers from onnx.proto. Only the fields that lead to tensors are listed; everything
// else is skipped by wire type and stays framing.
namespace model_f {
constexpr uint32_t kIrVersion = 1, kGraph = 7, kMetadataProps = 14, kTrainingInfo = 20,
                   kFunctions = 25;
}
namespace graph_f {
constexpr uint32_t kNode = 1, kInitializer = 5, kSparseInitializer = 15;
}
namespace node_f {
constexpr uint32_t kName = 3, kAttribute = 5;
}
namespace attr_f {
constexpr uint32_t kName = 1, kT = 5, kG = 6, kTensors = 10, kGraphs = 11, kSparseTensor = 22,
                   kSparseTensors = 23;
}
namespace tensor_f {
constexpr uint32_t kDims = 1, kDataType = 2, kFloatData = 4, kInt32Data = 5, kInt64Data = 7,
                   kName = 8, kRawData = 9, kDoubleData = 10, kUint64Data = 11, kExternalData = 13,
                   kDataLocation = 14;
}
namespace sparse_f {
constexpr uint32_t kValues = 1, kIndices = 2;
}
namespace function_f {
constexpr uint32_t kName = 1, kNode = 7, kAttributeProto = 11;
}
namespace training_f {
constexpr uint32_t kInitialization = 1, kAlgorithm = 2;
}
namespace entry_f {
constexpr uint32_t kKey = 1, kValue = 2;
}
constexpr uint64_t kDataLocationExternal = 1;

inline DType FromOnnxDataType(uint64_t t) {
  // Indexed by TensorProto.DataType; 0 (UNDEFINED), 18 (FLOAT8E4M3FNUZ), 20 (FLOAT8E5M2FNUZ) and
  // 23+ (FLOAT4E2M1, FLOAT8E8M0, UINT2, INT2, ...) map to kUnknown: still indexed, just not typed.
  // UINT4 (21) and INT4 (22) are packed two per byte (onnx.proto, ONNX 1.16+).
  static constexpr DType kByOnnx[] = {
      DType::kUnknown,    DType::kF32,  DType::kU8,     DType::kI8,      DType::kU16,
      DType::kI16,        DType::kI32,  DType::kI64,    DType::kString,  DType::kBool,
      DType::kF16,        DType::kF64,  DType::kU32,    DType::kU64,     DType::kComplex64,
      DType::kComplex128, DType::kBF16, DType::kF8E4M3, DType::kUnknown, DType::kF8E5M2,
      DType::kUnknown,    DType::kU4,   DType::kI4,
  };
  return t < std::size(kByOnnx) ? kByOnnx[t] : DType::kUnknown;
}

}  // namespace oxide::tensor::internal
