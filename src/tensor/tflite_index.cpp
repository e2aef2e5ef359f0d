// TFLite indexer: a FlatBuffers Model (schema.fbs of TensorFlow Lite, file identifier "TFL3").
// Tensor data lives in Model.buffers[]: inline in Buffer.data, or, in models over 2 GB, at
// Buffer.offset/size from the start of the file. Each buffer holding data becomes one tensor
// range, described by the first subgraph tensor that references it. Specified in
// docs/format/tensor-index.md ("TFLite").
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/index_util.hpp"
#include "tensor/tensor_index.hpp"
#include "tensor/tflite_reader.hpp"

namespace oxide::tensor {
namespace {

using internal::FlatReader;
using internal::FlatTable;
using internal::FlatVector;

// Field ids (declaration order in schema.fbs).
enum ModelField {
  kModelVersion = 0,
  kModelSubgraphs = 2,
  kModelDescription = 3,
  kModelBuffers = 4,
  kModelMetadata = 6
};
enum SubGraphField { kSubGraphTensors = 0 };
enum TensorField { kTensorShape = 0, kTensorType = 1, kTensorBuffer = 2, kTensorName = 3 };
enum BufferField { kBufferData = 0, kBufferOffset = 1, kBufferSize = 2 };
enum MetadataField { kMetadataName = 0, kMetadataBuffer = 1 };

// Metadata values longer than this, or not printable, are summarised as "<N bytes>".
constexpr size_t kMaxMetadataText = 256;
// Trailing NULs trimmed from a value before that limit applies (converters pad to 16 bytes).
constexpr size_t kMaxMetadataPadding = 64;
// Charged to the text budget per Model.metadata entry on top of its name and value.
constexpr uint64_t kMetadataEntryCost = 32;
// TFLite kernels take at most 6 dimensions; a longer shape is indexed as opaque bytes without
// being read, so shapes shared by many tensors cannot multiply the work.
constexpr uint64_t kMaxShapeDims = 16;

// TensorType → DType; nullopt-like kUnknown with *known false for enum values the schema lacks.
// 0..18 are TensorFlow's schema.fbs; INT2 = 19 and UINT4 = 20 were added by LiteRT's.
DType FromTensorType(uint8_t type, bool* known) {
  *known = true;
  switch (type) {
    case 0:
      return DType::kF32;
    case 1:
      return DType::kF16;
    case 2:
      return DType::kI32;
    case 3:
      return DType::kU8;
    case 4:
      return DType::kI64;
    case 5:
      return DType::kString;
    case 6:
      return DType::kBool;
    case 7:
      return DType::kI16;
    case 8:
      return DType::kComplex64;
    case 9:
      return DType::kI8;
    case 10:
      return DType::kF64;
    case 11:
      return DType::kComplex128;
    case 12:
      return DType::kU64;
    case 13:
      return DType::kUnknown;  // RESOURCE
    case 14:
      return DType::kUnknown;  // VARIANT
    case 15:
      return DType::kU32;
    case 16:
      return DType::kU16;
    case 17:
      return DType::kI4;
    case 18:
      return DType::kBF16;
    case 19:
      return DType::kUnknown;  // INT2: four per byte, indexed as opaque bytes
    case 20:
      return DType::kU4;
    default:
      *known = false;
      return DType::kUnknown;
  }
}

// One per buffer slot, kept small: a file of N bytes can hold N / 4 slots.
struct BufferRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint32_t tensor = kUnnamed;  // index into the walker's named_, once a tensor describes it
  static constexpr uint32_t kUnnamed = UINT32_MAX;
};

std::string Printable(std::string_view bytes) {
  // Too long for text even after any padding is trimmed: summarised without a scan, so many
  // entries naming one large buffer cost nothing per entry.
  if (bytes.size() > kMaxMetadataText + kMaxMetadataPadding) {
    return "<" + std::to_string(bytes.size()) + " bytes>";
  }
  // Converters pad version strings with NULs.
  while (!bytes.empty() && bytes.back() == '\0') bytes.remove_suffix(1);
  if (bytes.size() <= kMaxMetadataText) {
    bool ok = true;
    for (char c : bytes) ok = ok && static_cast<uint8_t>(c) >= 0x20 && c != 0x7f;
    if (ok) return std::string(bytes);
  }
  return "<" + std::to_string(bytes.size()) + " bytes>";
}

class TfliteWalker {
 public:
  explicit TfliteWalker(std::string_view file) : file_(file), r_(file) {}

  Result<TensorIndex> Walk() {
    if (file_.size() < 8 || file_.substr(4, 4) != "TFL3") {
      return Corrupt("tflite file identifier TFL3 missing");
    }
    OXIDE_ASSIGN_OR_RETURN(model_, r_.Root());
    OXIDE_RETURN_IF_ERROR(Buffers());
    OXIDE_RETURN_IF_ERROR(Subgraphs());
    OXIDE_RETURN_IF_ERROR(Metadata());
    return Finish();
  }

 private:
  Status Buffers() {
    OXIDE_ASSIGN_OR_RETURN(FlatVector v, r_.Vector(model_, kModelBuffers, 4, "Model.buffers"));
    // Grown as slots validate (not sized by the count): slots that fail cost nothing.
    for (uint64_t i = 0; i < v.count; ++i) {
      OXIDE_ASSIGN_OR_RETURN(FlatTable b, r_.TableAt(v.pos + 4 * i, "Model.buffers[]"));
      // Writers emit one Buffer table per slot; a shared one would give many slots one range.
      if (seen_[b.pos]) {
        return Corrupt("tflite buffer " + std::to_string(i) +
                       " shares its Buffer table with an earlier buffer");
      }
      seen_[b.pos] = true;
      OXIDE_ASSIGN_OR_RETURN(FlatVector data, r_.Vector(b, kBufferData, 1, "Buffer.data"));
      OXIDE_ASSIGN_OR_RETURN(uint64_t offset, r_.U64(b, kBufferOffset, 0, "Buffer.offset"));
      OXIDE_ASSIGN_OR_RETURN(uint64_t size, r_.U64(b, kBufferSize, 0, "Buffer.size"));
      // The schema treats offset 0 and 1 as "not set" (1 is the writer's placeholder).
      if (offset > 1) {
        const std::string which = "tflite buffer " + std::to_string(i);
        if (data.count != 0) return Corrupt(which + " has both inline data and an offset");
        if (offset > file_.size() || size > file_.size() - offset) {
          return Corrupt(which + " range past end of file");
        }
        buffers_.push_back(BufferRange{offset, size});
      } else {
        buffers_.push_back(BufferRange{data.pos, data.count});
      }
    }
    return Status::Ok();
  }

  Status Subgraphs() {
    OXIDE_ASSIGN_OR_RETURN(FlatVector subgraphs,
                           r_.Vector(model_, kModelSubgraphs, 4, "Model.subgraphs"));
    // Tables may be shared between vectors; a file can only hold file_size / 4 distinct tensor
    // slots, so more visits than that means aliasing built to multiply the work.
    uint64_t budget = file_.size() / 4;
    for (uint64_t s = 0; s < subgraphs.count; ++s) {
      OXIDE_ASSIGN_OR_RETURN(FlatTable g, r_.TableAt(subgraphs.pos + 4 * s, "Model.subgraphs[]"));
      OXIDE_ASSIGN_OR_RETURN(FlatVector tensors,
                             r_.Vector(g, kSubGraphTensors, 4, "SubGraph.tensors"));
      if (tensors.count > budget) {
        return Corrupt("tflite subgraphs list more tensors than the file can hold");
      }
      budget -= tensors.count;
      for (uint64_t i = 0; i < tensors.count; ++i) {
        OXIDE_ASSIGN_OR_RETURN(FlatTable t, r_.TableAt(tensors.pos + 4 * i, "SubGraph.tensors[]"));
        OXIDE_RETURN_IF_ERROR(Tensor(t));
      }
    }
    return Status::Ok();
  }

  Status Tensor(const FlatTable& t) {
    OXIDE_ASSIGN_OR_RETURN(uint32_t buffer, r_.U32(t, kTensorBuffer, 0, "Tensor.buffer"));
    OXIDE_ASSIGN_OR_RETURN(std::string_view name, r_.String(t, kTensorName, "Tensor.name"));
    if (buffer >= buffers_.size()) {
      return Corrupt("tflite tensor '" + std::string(name) + "' references buffer " +
                     std::to_string(buffer) + " of " + std::to_string(buffers_.size()));
    }
    BufferRange& b = buffers_[buffer];
    if (b.length == 0 || b.tensor != BufferRange::kUnnamed) return Status::Ok();
    OXIDE_ASSIGN_OR_RETURN(uint8_t type, r_.U8(t, kTensorType, 0, "Tensor.type"));
    OXIDE_ASSIGN_OR_RETURN(FlatVector shape, r_.Vector(t, kTensorShape, 4, "Tensor.shape"));
    bool known = false;
    const DType dtype = FromTensorType(type, &known);
    if (!known) {
      return Unsupported("tflite tensor '" + std::string(name) + "' has unknown type " +
                         std::to_string(type));
    }
    OXIDE_RETURN_IF_ERROR(ChargeText(name.size()));
    std::vector<int64_t> dims;
    uint64_t elements = 1;
    // A shape fits when its dims are non-negative and RawByteSize(elements) == length. The
    // element count is bounded as it grows, by twice the length for the packed 4-bit types.
    const uint64_t max_elements = IsPacked4(dtype) ? 2 * b.length : b.length;
    bool fits = shape.count <= kMaxShapeDims;
    for (uint64_t d = 0; fits && d < shape.count; ++d) {
      const int64_t dim = static_cast<int32_t>(r_.ReadU32(shape.pos + 4 * d));
      dims.push_back(dim);
      if (dim < 0 || (dim != 0 && elements > max_elements / static_cast<uint64_t>(dim))) {
        fits = false;
      } else {
        elements *= static_cast<uint64_t>(dim);
      }
    }
    uint64_t bytes = 0;
    internal::NamedTensor& n = Name(&b);
    n.info.name.assign(name);
    if (fits && RawByteSize(dtype, elements, &bytes) && bytes == b.length) {
      n.info.dtype = dtype;
      n.info.dims = std::move(dims);
    } else {
      // Strings, INT2, sparse, very long or inconsistent shapes: opaque bytes.
      n.info.dtype = DType::kU8;
      n.info.dims = {static_cast<int64_t>(b.length)};
    }
    return Status::Ok();
  }

  Status Metadata() {
    OXIDE_ASSIGN_OR_RETURN(uint32_t version, r_.U32(model_, kModelVersion, 0, "Model.version"));
    index_.metadata.emplace_back("version", std::to_string(version));
    OXIDE_ASSIGN_OR_RETURN(std::string_view description,
                           r_.String(model_, kModelDescription, "Model.description"));
    if (!description.empty()) index_.metadata.emplace_back("description", Printable(description));
    OXIDE_ASSIGN_OR_RETURN(FlatVector v, r_.Vector(model_, kModelMetadata, 4, "Model.metadata"));
    for (uint64_t i = 0; i < v.count; ++i) {
      OXIDE_ASSIGN_OR_RETURN(FlatTable m, r_.TableAt(v.pos + 4 * i, "Model.metadata[]"));
      if (seen_[m.pos]) {
        return Corrupt("tflite metadata " + std::to_string(i) +
                       " shares its Metadata table with an earlier entry");
      }
      seen_[m.pos] = true;
      OXIDE_ASSIGN_OR_RETURN(std::string_view name, r_.String(m, kMetadataName, "Metadata.name"));
      OXIDE_ASSIGN_OR_RETURN(uint32_t buffer, r_.U32(m, kMetadataBuffer, 0, "Metadata.buffer"));
      if (buffer >= buffers_.size()) {
        return Corrupt("tflite metadata '" + std::string(name) + "' references buffer " +
                       std::to_string(buffer) + " of " + std::to_string(buffers_.size()));
      }
      BufferRange& b = buffers_[buffer];
      std::string value = Printable(file_.substr(b.offset, b.length));
      // An entry costs its text and its record (~64 bytes) while its table is ~12 bytes of file.
      OXIDE_RETURN_IF_ERROR(ChargeText(kMetadataEntryCost + name.size() + value.size()));
      index_.metadata.emplace_back(std::string(name), std::move(value));
      if (b.length != 0 && b.tensor == BufferRange::kUnnamed) {
        internal::NamedTensor& n = Name(&b);
        n.info.name = internal::JoinName("metadata", name);
        n.info.dtype = DType::kU8;
        n.info.dims = {static_cast<int64_t>(b.length)};
      }
    }
    return Status::Ok();
  }

  Result<TensorIndex> Finish() {
    std::vector<internal::NamedTensor> found;
    for (size_t i = 0; i < buffers_.size(); ++i) {
      const BufferRange& b = buffers_[i];
      if (b.length == 0) continue;
      internal::NamedTensor t;
      if (b.tensor != BufferRange::kUnnamed) {
        t = std::move(named_[b.tensor]);
      } else {  // data no tensor references (kept as its own range all the same)
        t.info.name = "buffer/" + std::to_string(i);
        t.info.dtype = DType::kU8;
        t.info.dims = {static_cast<int64_t>(b.length)};
      }
      t.info.offset = b.offset;
      t.info.length = b.length;
      found.push_back(std::move(t));
    }
    OXIDE_ASSIGN_OR_RETURN(index_.tensors, internal::AssignUniqueNames(std::move(found)));
    OXIDE_RETURN_IF_ERROR(internal::SortAndCheckRanges(&index_.tensors, file_.size()));
    index_.format = ModelFormat::kTflite;
    return std::move(index_);
  }

  internal::NamedTensor& Name(BufferRange* b) {
    b->tensor = static_cast<uint32_t>(named_.size());
    return named_.emplace_back();
  }

  // Names may be shared strings; copying one per tensor or metadata entry could multiply the
  // file. A file holding its names once copies at most its own size.
  Status ChargeText(uint64_t bytes) {
    if (bytes > text_budget_) {
      return Corrupt("tflite names and metadata repeat more text than the file holds");
    }
    text_budget_ -= bytes;
    return Status::Ok();
  }

  std::string_view file_;
  FlatReader r_;
  FlatTable model_;
  std::vector<BufferRange> buffers_;
  std::vector<internal::NamedTensor> named_;  // one per buffer a tensor or metadata describes
  std::vector<bool> seen_ = std::vector<bool>(file_.size());  // table positions already used
  uint64_t text_budget_ = file_.size();
  TensorIndex index_;
};

}  // namespace

Result<TensorIndex> IndexTflite(std::string_view file) { return TfliteWalker(file).Walk(); }

}  // namespace oxide::tensor
