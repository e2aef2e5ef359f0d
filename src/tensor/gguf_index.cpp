// GGUF indexer (llama.cpp model files, versions 2 and 3, little-endian). Layout: magic "GGUF",
// u32 version, u64 tensor count, u64 metadata count, the metadata key/values, the tensor infos,
// padding to general.alignment, then the data section that tensor offsets are relative to.
// Specified in docs/format/tensor-index.md ("GGUF").
#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_set>

#include "base/coding.hpp"
#include "tensor/gguf_types.hpp"
#include "tensor/index_util.hpp"
#include "tensor/tensor_index.hpp"

namespace oxide::tensor {
namespace {

using internal::GgmlTypeInfo;

constexpr uint32_t kDefaultAlignment = 32;
// ggml tensors have at most 4 dimensions (GGML_MAX_DIMS).
constexpr uint32_t kMaxDims = 4;
// Arrays of arrays are legal in the format but rare; the bound keeps the walk iterative enough.
constexpr int kMaxArrayDepth = 4;
// Smallest encodings, used to bound counts by the bytes left: a key/value is at least an empty
// key (8) + type (4) + one byte; a tensor info an empty name (8) + n_dims (4) + type (4) +
// offset (8).
constexpr uint64_t kMinKvBytes = 13;
constexpr uint64_t kMinTensorInfoBytes = 24;
constexpr uint64_t kMaxTensorReserve = 1024;

enum ValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

// Width of a fixed-size value type; 0 for strings and arrays; -1 for unknown types.
int ScalarWidth(uint32_t type) {
  switch (type) {
    case kU8:
    case kI8:
    case kBool:
      return 1;
    case kU16:
    case kI16:
      return 2;
    case kU32:
    case kI32:
    case kF32:
      return 4;
    case kU64:
    case kI64:
    case kF64:
      return 8;
    case kString:
    case kArray:
      return 0;
    default:
      return -1;
  }
}

std::string_view TypeName(uint32_t type) {
  static constexpr std::string_view kNames[] = {"uint8",  "int8",    "uint16", "int16",  "uint32",
                                                "int32",  "float32", "bool",   "string", "array",
                                                "uint64", "int64",   "float64"};
  return type <= kF64 ? kNames[type] : "unknown";
}

// Bounds-checked cursor over the header. Every read checks the bytes left first.
class Cursor {
 public:
  explicit Cursor(std::string_view file) : file_(file) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return file_.size() - pos_; }

  Status U32(const char* what, uint32_t* v) {
    if (left() < 4) return Truncated(what);
    *v = DecodeFixed32(Ptr());
    pos_ += 4;
    return Status::Ok();
  }
  Status U64(const char* what, uint64_t* v) {
    if (left() < 8) return Truncated(what);
    *v = DecodeFixed64(Ptr());
    pos_ += 8;
    return Status::Ok();
  }
  Status Skip(const char* what, uint64_t n) {
    if (left() < n) return Truncated(what);
    pos_ += n;
    return Status::Ok();
  }
  // gguf_string: u64 length then that many bytes (not NUL-terminated).
  Status String(const char* what, std::string_view* s) {
    uint64_t n = 0;
    OXIDE_RETURN_IF_ERROR(U64(what, &n));
    if (n > left()) {
      return Corrupt(std::string("gguf ") + what + " length " + std::to_string(n) +
                     " past end of file");
    }
    *s = file_.substr(pos_, n);
    pos_ += n;
    return Status::Ok();
  }
  const uint8_t* Ptr() const { return reinterpret_cast<const uint8_t*>(file_.data()) + pos_; }

 private:
  Status Truncated(const char* what) const {
    return Corrupt(std::string("gguf truncated in ") + what + " at offset " + std::to_string(pos_));
  }
  std::string_view file_;
  uint64_t pos_ = 0;
};

// The shortest text that reads back as the same value (1e-12, not std::to_string's 0.000000).
template <typename Float>
std::string ShortestText(Float v) {
  char buf[32];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// Scalars as decimal text for TensorIndex::metadata.
std::string ScalarText(uint32_t type, const uint8_t* p) {
  switch (type) {
    case kU8:
      return std::to_string(p[0]);
    case kI8:
      return std::to_string(static_cast<int8_t>(p[0]));
    case kBool:
      return p[0] != 0 ? "true" : "false";
    case kU16:
      return std::to_string(static_cast<uint16_t>(p[0] | (p[1] << 8)));
    case kI16:
      return std::to_string(static_cast<int16_t>(p[0] | (p[1] << 8)));
    case kU32:
      return std::to_string(DecodeFixed32(p));
    case kI32:
      return std::to_string(static_cast<int32_t>(DecodeFixed32(p)));
    case kF32: {
      const uint32_t bits = DecodeFixed32(p);
      float f;
      static_assert(sizeof f == sizeof bits);
      std::memcpy(&f, &bits, sizeof f);
      return ShortestText(f);
    }
    case kU64:
      return std::to_string(DecodeFixed64(p));
    case kI64:
      return std::to_string(static_cast<int64_t>(DecodeFixed64(p)));
    case kF64: {
      const uint64_t bits = DecodeFixed64(p);
      double d;
      std::memcpy(&d, &bits, sizeof d);
      return ShortestText(d);
    }
    default:
      return {};
  }
}

// Skips one value of `type` (arrays recursively, at most kMaxArrayDepth deep). Counts are
// checked against the bytes left before anything is iterated, so the work is linear in the
// file size.
Status SkipValue(Cursor* c, uint32_t type, int depth) {
  const int width = ScalarWidth(type);
  if (width < 0) return Corrupt("gguf metadata value type " + std::to_string(type) + " unknown");
  if (width > 0) return c->Skip("metadata value", static_cast<uint64_t>(width));
  if (type == kString) {
    std::string_view s;
    return c->String("metadata string", &s);
  }
  if (depth >= kMaxArrayDepth) {
    return Corrupt("gguf metadata arrays nested deeper than " + std::to_string(kMaxArrayDepth));
  }
  uint32_t elem = 0;
  uint64_t count = 0;
  OXIDE_RETURN_IF_ERROR(c->U32("array element type", &elem));
  OXIDE_RETURN_IF_ERROR(c->U64("array length", &count));
  const int ew = ScalarWidth(elem);
  if (ew < 0) return Corrupt("gguf array element type " + std::to_string(elem) + " unknown");
  // Strings take at least 8 bytes, arrays at least 12 (element type + count).
  const uint64_t min_bytes = ew > 0 ? static_cast<uint64_t>(ew) : (elem == kString ? 8 : 12);
  if (count > c->left() / min_bytes) {
    return Corrupt("gguf array of " + std::to_string(count) + " " + std::string(TypeName(elem)) +
                   " values past end of file");
  }
  if (ew > 0) return c->Skip("array data", count * static_cast<uint64_t>(ew));
  for (uint64_t i = 0; i < count; ++i) OXIDE_RETURN_IF_ERROR(SkipValue(c, elem, depth + 1));
  return Status::Ok();
}

class GgufWalker {
 public:
  explicit GgufWalker(std::string_view file) : file_(file), c_(file) {}

  Result<TensorIndex> Walk() {
    OXIDE_RETURN_IF_ERROR(Header());
    OXIDE_RETURN_IF_ERROR(Metadata());
    OXIDE_RETURN_IF_ERROR(TensorInfos());
    return Finish();
  }

 private:
  Status Header() {
    if (file_.size() < 4 || file_.substr(0, 4) != "GGUF") return Corrupt("gguf magic missing");
    OXIDE_RETURN_IF_ERROR(c_.Skip("magic", 4));
    uint32_t version = 0;
    OXIDE_RETURN_IF_ERROR(c_.U32("version", &version));
    if (version == 1) {
      return Unsupported(
          "gguf version 1 (32-bit lengths) is not supported; re-save the model "
          "with a current llama.cpp (version 2 or 3)");
    }
    if (version == 0x01000000 || version == 0x02000000 || version == 0x03000000) {
      return Unsupported("big-endian gguf is not supported");
    }
    if (version == 0) return Corrupt("gguf version 0");
    if (version > 3) return Unsupported("gguf version " + std::to_string(version));
    OXIDE_RETURN_IF_ERROR(c_.U64("tensor count", &tensor_count_));
    OXIDE_RETURN_IF_ERROR(c_.U64("metadata count", &kv_count_));
    if (kv_count_ > c_.left() / kMinKvBytes) {
      return Corrupt("gguf metadata count " + std::to_string(kv_count_) + " past end of file");
    }
    return Status::Ok();
  }

  Status Metadata() {
    std::unordered_set<std::string_view> keys;
    for (uint64_t i = 0; i < kv_count_; ++i) {
      std::string_view key;
      uint32_t type = 0;
      OXIDE_RETURN_IF_ERROR(c_.String("metadata key", &key));
      if (!keys.insert(key).second) {
        return Corrupt("gguf duplicate metadata key '" + std::string(key) + "'");
      }
      OXIDE_RETURN_IF_ERROR(c_.U32("metadata value type", &type));
      const uint64_t start = c_.pos();
      std::string value;
      if (type == kString) {
        std::string_view s;
        OXIDE_RETURN_IF_ERROR(c_.String("metadata string", &s));
        value.assign(s);
      } else if (type == kArray) {
        OXIDE_RETURN_IF_ERROR(SkipValue(&c_, type, 0));
        const uint32_t elem = DecodeFixed32(reinterpret_cast<const uint8_t*>(file_.data()) + start);
        const uint64_t n =
            DecodeFixed64(reinterpret_cast<const uint8_t*>(file_.data()) + start + 4);
        value = "[" + std::to_string(n) + " x " + std::string(TypeName(elem)) + "]";
      } else {
        OXIDE_RETURN_IF_ERROR(SkipValue(&c_, type, 0));
        value = ScalarText(type, reinterpret_cast<const uint8_t*>(file_.data()) + start);
      }
      if (key == "general.alignment") {
        if (type != kU32) return Corrupt("gguf general.alignment is not a uint32");
        alignment_ = DecodeFixed32(reinterpret_cast<const uint8_t*>(file_.data()) + start);
        if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) {
          return Corrupt("gguf general.alignment " + std::to_string(alignment_) +
                         " is not a power of two");
        }
      }
      index_.metadata.emplace_back(std::string(key), std::move(value));
    }
    return Status::Ok();
  }

  Status TensorInfos() {
    if (tensor_count_ > c_.left() / kMinTensorInfoBytes) {
      return Corrupt("gguf tensor count " + std::to_string(tensor_count_) + " past end of file");
    }
    // The count is only bounded by the bytes left (24 per smallest info, while a record is
    // ~5x that): reserve a little, and let real infos grow the vector as they are read.
    found_.reserve(std::min<uint64_t>(tensor_count_, kMaxTensorReserve));
    for (uint64_t i = 0; i < tensor_count_; ++i) {
      std::string_view name;
      uint32_t n_dims = 0, type = 0;
      OXIDE_RETURN_IF_ERROR(c_.String("tensor name", &name));
      OXIDE_RETURN_IF_ERROR(c_.U32("tensor n_dims", &n_dims));
      const std::string quoted = "gguf tensor '" + std::string(name) + "'";
      if (n_dims > kMaxDims) {
        return Corrupt(quoted + " has " + std::to_string(n_dims) + " dimensions (max 4)");
      }
      internal::NamedTensor t;
      t.fixed = true;
      t.info.name.assign(name);
      uint64_t elements = 1;  // product of the dims, checked for overflow below
      for (uint32_t d = 0; d < n_dims; ++d) {
        uint64_t dim = 0;
        OXIDE_RETURN_IF_ERROR(c_.U64("tensor dims", &dim));
        if (dim > static_cast<uint64_t>(INT64_MAX)) {
          return Corrupt(quoted + " has a negative dimension");
        }
        if (dim != 0 && elements > static_cast<uint64_t>(INT64_MAX) / dim) {
          return Corrupt(quoted + " element count overflows");
        }
        elements *= dim;
        t.info.dims.push_back(static_cast<int64_t>(dim));
      }
      OXIDE_RETURN_IF_ERROR(c_.U32("tensor type", &type));
      uint64_t offset = 0;
      OXIDE_RETURN_IF_ERROR(c_.U64("tensor offset", &offset));
      const GgmlTypeInfo* info = internal::FindGgmlType(type);
      if (info == nullptr) {
        return Unsupported(quoted + " has unknown ggml type " + std::to_string(type));
      }
      // Quantised types pack blocks along the first dimension (ne[0]).
      const uint64_t ne0 = n_dims == 0 ? 1 : t.info.dims[0];
      if (ne0 % info->block_size != 0) {
        return Corrupt(quoted + " first dimension " + std::to_string(ne0) +
                       " is not a multiple of the " + std::string(info->name) + " block size " +
                       std::to_string(info->block_size));
      }
      const uint64_t blocks = elements / info->block_size;
      if (blocks > UINT64_MAX / info->type_size) return Corrupt(quoted + " byte size overflows");
      t.info.length = blocks * info->type_size;
      if (offset % alignment_ != 0) {
        return Corrupt(quoted + " offset " + std::to_string(offset) +
                       " is not a multiple of the alignment " + std::to_string(alignment_));
      }
      t.info.offset = offset;  // relative for now; made absolute in Finish()
      if (info->dtype != DType::kUnknown) {
        t.info.dtype = info->dtype;
      } else {
        // Quantised blocks: opaque bytes, so byte-wise delta coding and a shape that matches the
        // range (elements * width == length holds for every indexed tensor).
        t.info.dtype = DType::kU8;
        t.info.dims = {static_cast<int64_t>(t.info.length)};
      }
      found_.push_back(std::move(t));
    }
    return Status::Ok();
  }

  Result<TensorIndex> Finish() {
    const uint64_t end_of_infos = c_.pos();
    const uint64_t pad = (alignment_ - end_of_infos % alignment_) % alignment_;
    const uint64_t data_start = end_of_infos + pad;
    if (!found_.empty() && data_start > file_.size()) {
      return Corrupt("gguf data section starts at " + std::to_string(data_start) +
                     ", past end of file");
    }
    for (internal::NamedTensor& t : found_) {
      if (t.info.offset > file_.size() - std::min<uint64_t>(data_start, file_.size())) {
        return Corrupt("gguf tensor '" + t.info.name + "' offset " + std::to_string(t.info.offset) +
                       " past end of file");
      }
      t.info.offset += data_start;
    }
    OXIDE_ASSIGN_OR_RETURN(index_.tensors, internal::AssignUniqueNames(std::move(found_)));
    OXIDE_RETURN_IF_ERROR(internal::SortAndCheckRanges(&index_.tensors, file_.size()));
    index_.format = ModelFormat::kGguf;
    return std::move(index_);
  }

  std::string_view file_;
  Cursor c_;
  uint64_t tensor_count_ = 0;
  uint64_t kv_count_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  std::vector<internal::NamedTensor> found_;
  TensorIndex index_;
};

}  // namespace

Result<TensorIndex> IndexGguf(std::string_view file) { return GgufWalker(file).Walk(); }

}  // namespace oxide::tensor
