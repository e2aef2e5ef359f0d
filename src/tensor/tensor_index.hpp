#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace oxide::tensor {

// Model container formats Oxide understands. Values are persisted (patch headers, store): never
// renumber.
enum class ModelFormat : uint8_t {
  kUnknown = 0,
  kOnnx = 1,
  kSafeTensors = 2,
  kGguf = 3,
  kTflite = 4
};
// "unknown", "onnx", "safetensors", "gguf", "tflite"
std::string_view ToString(ModelFormat f);

// Element types. Values are persisted: never renumber.
enum class DType : uint8_t {
  kUnknown = 0,
  kF32 = 1,
  kF16 = 2,
  kBF16 = 3,
  kF64 = 4,
  kI8 = 5,
  kI16 = 6,
  kI32 = 7,
  kI64 = 8,
  kU8 = 9,
  kU16 = 10,
  kU32 = 11,
  kU64 = 12,
  kBool = 13,
  kF8E4M3 = 14,
  kF8E5M2 = 15,
  kString = 16,
  kComplex64 = 17,
  kComplex128 = 18,
  // 4-bit integers packed two per byte, element 2i in the low nibble of byte i and element 2i+1
  // in its high nibble; an odd count leaves the last high nibble as padding (ONNX INT4/UINT4,
  // TFLite INT4/UINT4). Signed is two's complement (-8..7).
  kI4 = 19,
  kU4 = 20,
};
// The highest DType value; readers of persisted DTypes accept 0..kLastDType.
inline constexpr DType kLastDType = DType::kU4;
// SafeTensors-style names: "F32", "BF16", "I64", ...; "I4" / "U4" for the packed 4-bit types
// (SafeTensors itself has no 4-bit integer dtype and does not accept these names).
std::string_view ToString(DType d);
// Width in bytes of one element as stored in raw little-endian form; 0 when not a whole number
// of bytes (strings, the packed 4-bit types).
size_t ElementWidth(DType d);
bool IsFloat(DType d);
// True for kI4 and kU4 (two elements per byte).
bool IsPacked4(DType d);
// Bytes `elements` elements of `d` take stored raw: elements x ElementWidth, or
// ceil(elements / 2) for the packed 4-bit types. False when that overflows or `d` has no fixed
// size (strings, kUnknown).
bool RawByteSize(DType d, uint64_t elements, uint64_t* bytes);
// The product of `dims` into *elements; false when a dim is negative or the product overflows.
bool ElementCount(const std::vector<int64_t>& dims, uint64_t* elements);

// How a tensor's bytes sit in the file.
enum class Storage : uint8_t {
  kRaw = 0,           // little-endian elements, ElementWidth(dtype) each (raw_data, SafeTensors)
  kPackedFixed = 1,   // ONNX packed float_data/double_data: fixed-width little-endian elements
  kPackedVarint = 2,  // ONNX packed int32/int64/uint64_data: varints (opaque bytes, width 1)
  kExternal = 3,      // ONNX external data: bytes live in another file (range is empty)
};
std::string_view ToString(Storage s);

struct TensorInfo {
  std::string name;
  DType dtype = DType::kUnknown;
  std::vector<int64_t> dims;
  Storage storage = Storage::kRaw;
  uint64_t offset = 0;  // byte range of the element data inside the model file
  uint64_t length = 0;
  std::string external_location;  // kExternal only: the referenced file
  // Width to group bytes by when delta-coding (ElementWidth for kRaw/kPackedFixed, else 1).
  size_t group_width() const;
};

// The tensors found in one model file, in file order of their data (offsets ascending,
// non-overlapping). Everything not covered by a tensor range is "framing" (graph, names, headers).
struct TensorIndex {
  ModelFormat format = ModelFormat::kUnknown;
  std::vector<TensorInfo> tensors;
  // Free-form string metadata: SafeTensors `__metadata__` (sorted by key), ONNX
  // ModelProto.metadata_props (file order). Informational; never affects the ranges.
  std::vector<std::pair<std::string, std::string>> metadata;
};

// Guesses the format from the first bytes (SafeTensors header shape, ONNX field tags, the GGUF
// magic, the TFLite "TFL3" file identifier); cheap.
ModelFormat DetectFormat(std::string_view file);
// The format the first bytes announce, even when the rest is missing or broken (a truncated
// upload): SafeTensors' length prefix and '{', ONNX's ir_version followed by another
// ModelProto field tag, "GGUF" at offset 0, or "TFL3" at offset 4. DetectFormat(f) != kUnknown
// implies ClaimedFormat(f) == DetectFormat(f) for valid files; a file that claims a format and does
// not index is corrupt, not "unknown".
ModelFormat ClaimedFormat(std::string_view file);

// Indexes a model held in memory (usually a MappedFile view). Never copies tensor data.
//  - kUnknown format: returns an empty index (the format-agnostic path), never an error.
//  - ONNX / SafeTensors / GGUF / TFLite: kCorrupt with a specific message on malformed input
//  (truncation, length
//    past end, varint overflow, nesting too deep, overlapping or out-of-range data, duplicate
//    names), kUnsupported for unknown dtypes (and GGUF version 1 or big-endian files).
Result<TensorIndex> IndexModel(std::string_view file, ModelFormat format);
Result<TensorIndex> IndexOnnx(std::string_view file);
Result<TensorIndex> IndexSafeTensors(std::string_view file);
// GGUF v2/v3: quantised block types are indexed as opaque kU8 tensors of their byte size;
// metadata holds every key (strings verbatim, numbers as text, arrays as "[N x type]").
Result<TensorIndex> IndexGguf(std::string_view file);
// TFLite FlatBuffers: one tensor per buffer that holds data (named after the first tensor that
// references it); metadata holds the description and the model's metadata entries.
Result<TensorIndex> IndexTflite(std::string_view file);

}  // namespace oxide::tensor
