// Format detection and dispatch. Detection only looks at framing bytes, never at tensor data,
// so it stays cheap on a multi-gigabyte mapped model.
#include "base/coding.hpp"
#include "tensor/tensor_index.hpp"
#include "tensor/wire_reader.hpp"

namespace oxide::tensor {
namespace {

constexpr uint64_t kMaxSafeTensorsHeader = uint64_t{100} << 20;
// ONNX IR versions are small integers (10 in 2024); anything large is not an ir_version.
constexpr uint64_t kMaxIrVersion = 255;
constexpr uint32_t kOnnxGraphField = 7;

bool LooksLikeSafeTensors(std::string_view file) {
  if (file.size() < 10) return false;
  const uint64_t n = DecodeFixed64(reinterpret_cast<const uint8_t*>(file.data()));
  return n >= 2 && n <= file.size() - 8 && n <= kMaxSafeTensorsHeader && file[8] == '{';
}

// The top level of a ModelProto is a handful of fields (the graph is one of them), so walking
// it is cheap: it must start with ir_version, parse to the very end and hold a graph.
bool LooksLikeOnnx(std::string_view file) {
  if (file.empty() || static_cast<uint8_t>(file[0]) != 0x08) return false;
  internal::WireReader r(file, 0);
  internal::WireField f;
  if (!r.Next(&f).ok() || f.value == 0 || f.value > kMaxIrVersion) return false;
  bool has_graph = false;
  while (!r.done()) {
    if (!r.Next(&f).ok()) return false;
    if (f.number == kOnnxGraphField && f.type == internal::WireType::kLengthDelimited) {
      has_graph = true;
    }
  }
  return has_graph;
}

}  // namespace

ModelFormat DetectFormat(std::string_view file) {
  if (LooksLikeSafeTensors(file)) return ModelFormat::kSafeTensors;
  if (LooksLikeOnnx(file)) return ModelFormat::kOnnx;
  return ModelFormat::kUnknown;
}

Result<TensorIndex> IndexModel(std::string_view file, ModelFormat format) {
  switch (format) {
    case ModelFormat::kOnnx:
      return IndexOnnx(file);
    case ModelFormat::kSafeTensors:
      return IndexSafeTensors(file);
    case ModelFormat::kUnknown:
      break;
  }
  return TensorIndex{};  // format-agnostic path: no tensors, the whole file is framing
}

}  // namespace oxide::tensor
