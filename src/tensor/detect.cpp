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

// The first bytes announce a SafeTensors file (length prefix and '{'), whether or not the
// length fits the file: a file cut inside its header still claims the format.
bool ClaimsSafeTensors(std::string_view file) {
  if (file.size() < 9) return false;
  const uint64_t n = DecodeFixed64(reinterpret_cast<const uint8_t*>(file.data()));
  return n >= 2 && n <= kMaxSafeTensorsHeader && file[8] == '{';
}

// ONNX has no magic. A ModelProto starts with ir_version (field 1, varint, a small number) and is
// followed by another ModelProto field with its proper wire type; random bytes almost never do
// both, while a model cut anywhere after its first two fields still does.
bool ClaimsOnnx(std::string_view file) {
  if (file.empty() || static_cast<uint8_t>(file[0]) != 0x08) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(file.data()) + 1;
  const auto* end = reinterpret_cast<const uint8_t*>(file.data()) + file.size();
  uint64_t ir_version = 0;
  if (!GetVarint64(&p, end, &ir_version) || ir_version == 0 || ir_version > kMaxIrVersion) {
    return false;
  }
  // Only the next tag: the field itself may be cut short.
  uint64_t tag = 0;
  if (!GetVarint64(&p, end, &tag)) return false;
  const uint64_t number = tag >> 3, wire = tag & 7;
  constexpr uint64_t kVarint = 0, kLen = 2;
  switch (number) {
    case 5:  // model_version
      return wire == kVarint;
    case 2:
    case 3:
    case 4:
    case 6:
    case 7:
    case 8:
    case 14:
    case 20:
    case 25:
    case 26:
      // producer_name, producer_version, domain, doc_string, graph, opset_import,
      // metadata_props, training_info, functions, configuration
      return wire == kLen;
    default:
      return false;
  }
}

// GGUF starts with its magic; the fixed header (magic, version, two u64 counts) is 24 bytes.
constexpr size_t kGgufHeader = 24;
bool ClaimsGguf(std::string_view file) { return file.substr(0, 4) == "GGUF"; }
bool LooksLikeGguf(std::string_view file) { return file.size() >= kGgufHeader && ClaimsGguf(file); }

// FlatBuffers put the file identifier right after the root table offset.
bool ClaimsTflite(std::string_view file) { return file.size() >= 8 && file.substr(4, 4) == "TFL3"; }
bool LooksLikeTflite(std::string_view file) {
  if (!ClaimsTflite(file)) return false;
  const uint64_t root = DecodeFixed32(reinterpret_cast<const uint8_t*>(file.data()));
  return root >= 8 && root <= file.size() - 4;
}

}  // namespace

ModelFormat ClaimedFormat(std::string_view file) {
  if (ClaimsSafeTensors(file)) return ModelFormat::kSafeTensors;
  if (ClaimsOnnx(file)) return ModelFormat::kOnnx;
  // Checked after the older formats so that their classification never changes.
  if (ClaimsGguf(file)) return ModelFormat::kGguf;
  if (ClaimsTflite(file)) return ModelFormat::kTflite;
  return ModelFormat::kUnknown;
}

ModelFormat DetectFormat(std::string_view file) {
  if (LooksLikeSafeTensors(file)) return ModelFormat::kSafeTensors;
  if (LooksLikeOnnx(file)) return ModelFormat::kOnnx;
  if (LooksLikeGguf(file)) return ModelFormat::kGguf;
  if (LooksLikeTflite(file)) return ModelFormat::kTflite;
  return ModelFormat::kUnknown;
}

Result<TensorIndex> IndexModel(std::string_view file, ModelFormat format) {
  switch (format) {
    case ModelFormat::kOnnx:
      return IndexOnnx(file);
    case ModelFormat::kSafeTensors:
      return IndexSafeTensors(file);
    case ModelFormat::kGguf:
      return IndexGguf(file);
    case ModelFormat::kTflite:
      return IndexTflite(file);
    case ModelFormat::kUnknown:
      break;
  }
  return TensorIndex{};  // format-agnostic path: no tensors, the whole file is framing
}

}  // namespace oxide::tensor
