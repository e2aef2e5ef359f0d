// The JSON header of a SafeTensors file, read in one pass by a small reader written for this one
// shape ({name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}): a 1M-tensor
// header (tens of MB) is read in well under a second, with no DOM. A DOM parser with a
// duplicate-key callback was quadratic here (nlohmann re-scans the parent object at every
// nested object's end), which froze the server for minutes on large headers.
#include "tensor/safetensors_header.hpp"

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace oxide::tensor::internal {
namespace {

constexpr std::string_view kMetadataKey = "__metadata__";
// Nesting allowed inside values we skip (unknown keys). Real headers nest 3 levels.
constexpr int kMaxDepth = 64;

Result<DType> ParseDType(std::string_view s) {
  static constexpr struct {
    std::string_view name;
    DType dtype;
  } kTable[] = {
      {"F64", DType::kF64},   {"F32", DType::kF32},        {"F16", DType::kF16},
      {"BF16", DType::kBF16}, {"I64", DType::kI64},        {"I32", DType::kI32},
      {"I16", DType::kI16},   {"I8", DType::kI8},          {"U8", DType::kU8},
      {"U16", DType::kU16},   {"U32", DType::kU32},        {"U64", DType::kU64},
      {"BOOL", DType::kBool}, {"F8_E4M3", DType::kF8E4M3}, {"F8_E5M2", DType::kF8E5M2},
  };
  for (const auto& e : kTable) {
    if (e.name == s) return e.dtype;
  }
  return Unsupported("unsupported dtype '" + std::string(s.substr(0, 64)) + "'");
}

// A tensor whose name an earlier one already has, or null. Open addressing (no allocation per
// name: a node-based set costs a malloc per tensor); each slot keeps 32 bits of the hash beside
// the index, so a probe reads the tensor's name only when those bits match (a cache miss per
// tensor otherwise dominates a 1M-tensor parse).
const TensorInfo* FindDuplicateName(const std::vector<TensorInfo>& tensors) {
  size_t cap = 16;
  while (cap < tensors.size() * 2) cap *= 2;
  std::vector<uint64_t> slots(cap, 0);  // (hash >> 32) << 32 | (index + 1); 0 = empty
  const std::hash<std::string_view> hash;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::string_view name = tensors[i].name;
    const uint64_t h = hash(name);
    const uint64_t tag = h & 0xffffffff00000000ULL;
    for (size_t at = h & (cap - 1);; at = (at + 1) & (cap - 1)) {
      const uint64_t slot = slots[at];
      if (slot == 0) {
        slots[at] = tag | static_cast<uint64_t>(i + 1);
        break;
      }
      if ((slot & 0xffffffff00000000ULL) == tag &&
          tensors[static_cast<size_t>(slot & 0xffffffffULL) - 1].name == name) {
        return &tensors[i];
      }
    }
  }
  return nullptr;
}

// One pass over the header text. Syntax errors stop the pass (kCorrupt, "not valid JSON");
// errors in well-formed entries (bad dtype, shape, offsets) are kept as the first semantic error
// and reported only if the whole header is valid JSON, as a DOM parser would.
class HeaderReader {
 public:
  HeaderReader(std::string_view text, uint64_t data_start, uint64_t data_size)
      : p_(text.data()),
        end_(text.data() + text.size()),
        data_start_(data_start),
        data_size_(data_size) {}

  Status Read(TensorIndex* index) {
    SkipWs();
    if (p_ == end_ || *p_ != '{') {
      if (p_ != end_ && (*p_ == '[' || *p_ == '"' || *p_ == '-' || (*p_ >= '0' && *p_ <= '9') ||
                         *p_ == 't' || *p_ == 'f' || *p_ == 'n')) {
        OXIDE_RETURN_IF_ERROR(SkipValue(0));
        SkipWs();
        if (p_ != end_) return Syntax();
        return Corrupt("safetensors header is not a JSON object");
      }
      return Syntax();
    }
    ++p_;
    SkipWs();
    // About 60 bytes per entry in real headers: one allocation instead of ~20 regrowths.
    index->tensors.reserve(static_cast<size_t>(end_ - p_) / 64);
    if (Peek('}')) {
      ++p_;
    } else {
      while (true) {
        TensorInfo t;
        OXIDE_RETURN_IF_ERROR(ReadKey(&t.name));
        if (t.name == kMetadataKey) {
          if (seen_metadata_) NoteDuplicate(t.name);
          seen_metadata_ = true;
          OXIDE_RETURN_IF_ERROR(ReadMetadata(index));
        } else {
          OXIDE_RETURN_IF_ERROR(ReadEntry(&t));
          index->tensors.push_back(std::move(t));
        }
        SkipWs();
        if (Peek(',')) {
          ++p_;
          SkipWs();
          continue;
        }
        if (Peek('}')) {
          ++p_;
          break;
        }
        return Syntax();
      }
    }
    SkipWs();
    if (p_ != end_) return Syntax();
    if (!semantic_.ok()) return semantic_;
    // Duplicate names would give one tensor two ranges: ambiguous.
    if (const TensorInfo* dup = FindDuplicateName(index->tensors)) {
      return Corrupt("duplicate key '" + dup->name.substr(0, 256) + "' in safetensors header");
    }
    std::sort(index->metadata.begin(), index->metadata.end());
    for (size_t i = 1; i < index->metadata.size(); ++i) {
      if (index->metadata[i].first == index->metadata[i - 1].first) {
        return Corrupt("duplicate key '" + index->metadata[i].first.substr(0, 256) +
                       "' in safetensors header");
      }
    }
    return Status::Ok();
  }

 private:
  static Status Syntax() { return Corrupt("safetensors header is not valid JSON"); }

  void Note(Status st) {
    if (semantic_.ok()) semantic_ = std::move(st);
  }
  void NoteDuplicate(const std::string& key) {
    Note(Corrupt("duplicate key '" + key.substr(0, 256) + "' in safetensors header"));
  }

  void SkipWs() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool Peek(char c) const { return p_ != end_ && *p_ == c; }
  Status Expect(char c) {
    SkipWs();
    if (!Peek(c)) return Syntax();
    ++p_;
    SkipWs();
    return Status::Ok();
  }

  Status ReadKey(std::string* key) {
    if (!Peek('"')) return Syntax();
    OXIDE_RETURN_IF_ERROR(ReadString(key));
    return Expect(':');
  }

  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool Read4Hex(uint32_t* out) {
    if (end_ - p_ < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = Hex(p_[i]);
      if (h < 0) return false;
      v = v * 16 + static_cast<uint32_t>(h);
    }
    p_ += 4;
    *out = v;
    return true;
  }
  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  // Length of the valid UTF-8 sequence at p_ (lead byte >= 0x80), 0 when invalid.
  size_t Utf8Length() const {
    const auto* u = reinterpret_cast<const unsigned char*>(p_);
    const size_t left = static_cast<size_t>(end_ - p_);
    auto cont = [&](size_t i) { return i < left && (u[i] & 0xC0) == 0x80; };
    if (u[0] >= 0xC2 && u[0] <= 0xDF) return cont(1) ? 2 : 0;
    if (u[0] >= 0xE0 && u[0] <= 0xEF) {
      if (!cont(1) || !cont(2)) return 0;
      if (u[0] == 0xE0 && u[1] < 0xA0) return 0;   // overlong
      if (u[0] == 0xED && u[1] >= 0xA0) return 0;  // surrogate
      return 3;
    }
    if (u[0] >= 0xF0 && u[0] <= 0xF4) {
      if (!cont(1) || !cont(2) || !cont(3)) return 0;
      if (u[0] == 0xF0 && u[1] < 0x90) return 0;
      if (u[0] == 0xF4 && u[1] >= 0x90) return 0;
      return 4;
    }
    return 0;
  }

  // At '"': reads a string, validating UTF-8 and escapes.
  Status ReadString(std::string* out) {
    ++p_;
    out->clear();
    const char* run = p_;
    while (true) {
      if (p_ == end_) return Syntax();
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out->append(run, static_cast<size_t>(p_ - run));
        ++p_;
        return Status::Ok();
      }
      if (c < 0x20) return Syntax();
      if (c < 0x80 && c != '\\') {
        ++p_;
        continue;
      }
      if (c >= 0x80) {
        size_t n = Utf8Length();
        if (n == 0) return Syntax();
        p_ += n;
        continue;
      }
      out->append(run, static_cast<size_t>(p_ - run));
      ++p_;  // backslash
      if (p_ == end_) return Syntax();
      char e = *p_++;
      switch (e) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!Read4Hex(&cp)) return Syntax();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = 0;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return Syntax();
            p_ += 2;
            if (!Read4Hex(&lo) || lo < 0xDC00 || lo > 0xDFFF) return Syntax();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return Syntax();
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          return Syntax();
      }
      run = p_;
    }
  }

  // A JSON number. *is_uint: it is a plain non-negative integer that fits in 64 bits (*value).
  Status ReadNumber(bool* is_uint, uint64_t* value) {
    *is_uint = true;
    *value = 0;
    if (Peek('-')) {
      *is_uint = false;
      ++p_;
    }
    if (p_ == end_ || *p_ < '0' || *p_ > '9') return Syntax();
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') {
        uint64_t d = static_cast<uint64_t>(*p_ - '0');
        if (*value > (UINT64_MAX - d) / 10) *is_uint = false;
        *value = *value * 10 + d;
        ++p_;
      }
    }
    if (Peek('.')) {
      *is_uint = false;
      ++p_;
      if (p_ == end_ || *p_ < '0' || *p_ > '9') return Syntax();
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (Peek('e') || Peek('E')) {
      *is_uint = false;
      ++p_;
      if (Peek('+') || Peek('-')) ++p_;
      if (p_ == end_ || *p_ < '0' || *p_ > '9') return Syntax();
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    return Status::Ok();
  }

  bool Literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) {
      return false;
    }
    p_ += word.size();
    return true;
  }

  // Skips any JSON value (validating it), at most kMaxDepth levels deep.
  Status SkipValue(int depth) {
    if (depth > kMaxDepth) return Corrupt("safetensors header nests deeper than 64 levels");
    if (p_ == end_) return Syntax();
    switch (*p_) {
      case '"': {
        std::string ignored;
        return ReadString(&ignored);
      }
      case '{': {
        ++p_;
        SkipWs();
        if (Peek('}')) {
          ++p_;
          return Status::Ok();
        }
        std::string key;
        while (true) {
          OXIDE_RETURN_IF_ERROR(ReadKey(&key));
          OXIDE_RETURN_IF_ERROR(SkipValue(depth + 1));
          SkipWs();
          if (Peek(',')) {
            ++p_;
            SkipWs();
            continue;
          }
          if (Peek('}')) {
            ++p_;
            return Status::Ok();
          }
          return Syntax();
        }
      }
      case '[': {
        ++p_;
        SkipWs();
        if (Peek(']')) {
          ++p_;
          return Status::Ok();
        }
        while (true) {
          OXIDE_RETURN_IF_ERROR(SkipValue(depth + 1));
          SkipWs();
          if (Peek(',')) {
            ++p_;
            SkipWs();
            continue;
          }
          if (Peek(']')) {
            ++p_;
            return Status::Ok();
          }
          return Syntax();
        }
      }
      case 't':
        return Literal("true") ? Status::Ok() : Syntax();
      case 'f':
        return Literal("false") ? Status::Ok() : Syntax();
      case 'n':
        return Literal("null") ? Status::Ok() : Syntax();
      default: {
        bool is_uint = false;
        uint64_t v = 0;
        return ReadNumber(&is_uint, &v);
      }
    }
  }

  // An array of numbers. *all_uint: every element is a plain non-negative integer.
  Status ReadUintArray(std::vector<uint64_t>* out, bool* all_uint) {
    *all_uint = true;
    out->clear();
    ++p_;  // '['
    SkipWs();
    if (Peek(']')) {
      ++p_;
      return Status::Ok();
    }
    while (true) {
      if (p_ != end_ && (*p_ == '-' || (*p_ >= '0' && *p_ <= '9'))) {
        bool is_uint = false;
        uint64_t v = 0;
        OXIDE_RETURN_IF_ERROR(ReadNumber(&is_uint, &v));
        *all_uint = *all_uint && is_uint;
        out->push_back(v);
      } else {
        OXIDE_RETURN_IF_ERROR(SkipValue(1));
        *all_uint = false;
        out->push_back(0);
      }
      SkipWs();
      if (Peek(',')) {
        ++p_;
        SkipWs();
        continue;
      }
      if (Peek(']')) {
        ++p_;
        return Status::Ok();
      }
      return Syntax();
    }
  }

  Status ReadMetadata(TensorIndex* index) {
    if (!Peek('{')) {
      OXIDE_RETURN_IF_ERROR(SkipValue(1));
      Note(Corrupt("__metadata__ is not an object"));
      return Status::Ok();
    }
    ++p_;
    SkipWs();
    if (Peek('}')) {
      ++p_;
      return Status::Ok();
    }
    std::string key, value;
    while (true) {
      OXIDE_RETURN_IF_ERROR(ReadKey(&key));
      if (Peek('"')) {
        OXIDE_RETURN_IF_ERROR(ReadString(&value));
        index->metadata.emplace_back(key, value);
      } else {
        OXIDE_RETURN_IF_ERROR(SkipValue(2));
        Note(Corrupt("__metadata__ value for '" + key.substr(0, 256) + "' is not a string"));
      }
      SkipWs();
      if (Peek(',')) {
        ++p_;
        SkipWs();
        continue;
      }
      if (Peek('}')) {
        ++p_;
        return Status::Ok();
      }
      return Syntax();
    }
  }

  // Reads one tensor entry; semantic problems are noted (with the tensor's name) and the entry
  // is still consumed, so the rest of the header is checked for syntax.
  Status ReadEntry(TensorInfo* t) {
    if (!Peek('{')) {
      OXIDE_RETURN_IF_ERROR(SkipValue(1));
      Note(Corrupt("tensor '" + t->name.substr(0, 256) + "': entry is not an object"));
      return Status::Ok();
    }
    ++p_;
    SkipWs();
    bool has_dtype = false, dtype_is_string = false, has_shape = false, shape_ok = false;
    bool has_offsets = false, offsets_ok = false, shape_seen = false, offsets_seen = false;
    // Scratch buffers are members, reused across the (up to millions of) entries.
    std::string& dtype = dtype_;
    std::vector<uint64_t>& shape = shape_;
    std::vector<uint64_t>& offsets = offsets_;
    std::vector<std::string>& seen = seen_;  // other keys (rare): duplicates among them
    std::string& key = key_;
    dtype.clear();
    shape.clear();
    offsets.clear();
    seen.clear();
    if (Peek('}')) {
      ++p_;
    } else {
      while (true) {
        OXIDE_RETURN_IF_ERROR(ReadKey(&key));
        if (key == "dtype") {
          if (has_dtype) NoteDuplicate(key);
          has_dtype = true;
          dtype_is_string = Peek('"');
          OXIDE_RETURN_IF_ERROR(dtype_is_string ? ReadString(&dtype) : SkipValue(2));
        } else if (key == "shape") {
          if (shape_seen) NoteDuplicate(key);
          shape_seen = true;
          has_shape = Peek('[');
          if (has_shape) {
            OXIDE_RETURN_IF_ERROR(ReadUintArray(&shape, &shape_ok));
          } else {
            OXIDE_RETURN_IF_ERROR(SkipValue(2));
          }
        } else if (key == "data_offsets") {
          if (offsets_seen) NoteDuplicate(key);
          offsets_seen = true;
          has_offsets = Peek('[');
          if (has_offsets) {
            OXIDE_RETURN_IF_ERROR(ReadUintArray(&offsets, &offsets_ok));
          } else {
            OXIDE_RETURN_IF_ERROR(SkipValue(2));
          }
        } else {
          seen.push_back(key);  // duplicates: checked once the entry is read
          OXIDE_RETURN_IF_ERROR(SkipValue(2));
        }
        SkipWs();
        if (Peek(',')) {
          ++p_;
          SkipWs();
          continue;
        }
        if (Peek('}')) {
          ++p_;
          break;
        }
        return Syntax();
      }
    }
    // Sorted, not searched per key: an entry may carry any number of unknown keys.
    std::sort(seen.begin(), seen.end());
    const auto dup = std::adjacent_find(seen.begin(), seen.end());
    if (dup != seen.end()) NoteDuplicate(*dup);
    if (!semantic_.ok()) return Status::Ok();  // only the first problem is reported
    Status st = Check(t, has_dtype && dtype_is_string, dtype, has_shape, shape_ok, shape,
                      has_offsets && offsets.size() == 2, offsets_ok, offsets);
    if (!st.ok()) Note(std::move(st).WithContext("tensor '" + t->name.substr(0, 256) + "'"));
    return Status::Ok();
  }

  Status Check(TensorInfo* t, bool dtype_ok, const std::string& dtype, bool has_shape,
               bool shape_ok, const std::vector<uint64_t>& shape, bool offsets_pair,
               bool offsets_ok, const std::vector<uint64_t>& offsets) const {
    if (!dtype_ok) return Corrupt("missing or non-string dtype");
    if (!has_shape) return Corrupt("missing or non-array shape");
    if (!offsets_pair) return Corrupt("data_offsets is not [begin, end]");
    OXIDE_ASSIGN_OR_RETURN(t->dtype, ParseDType(dtype));
    if (!shape_ok) return Corrupt("shape entry is not a non-negative integer");
    uint64_t elements = 1;
    t->dims.reserve(shape.size());
    for (uint64_t dim : shape) {
      if (dim > static_cast<uint64_t>(INT64_MAX)) {
        return Corrupt("shape entry is not a non-negative integer");
      }
      if (__builtin_mul_overflow(elements, dim, &elements)) return Corrupt("shape overflows");
      t->dims.push_back(static_cast<int64_t>(dim));
    }
    if (!offsets_ok) return Corrupt("data_offsets are not non-negative integers");
    const uint64_t begin = offsets[0], end = offsets[1];
    if (begin > end || end > data_size_) {
      return Corrupt("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                     "] outside data of " + std::to_string(data_size_) + " bytes");
    }
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(elements, uint64_t{ElementWidth(t->dtype)}, &bytes) ||
        bytes != end - begin) {
      return Corrupt("data size " + std::to_string(end - begin) + " does not match shape");
    }
    t->storage = Storage::kRaw;
    t->offset = data_start_ + begin;
    t->length = end - begin;
    return Status::Ok();
  }

  const char* p_;
  const char* const end_;
  const uint64_t data_start_;
  const uint64_t data_size_;
  bool seen_metadata_ = false;
  Status semantic_;
  std::string dtype_, key_;
  std::vector<uint64_t> shape_, offsets_;
  std::vector<std::string> seen_;
};

}  // namespace

Status ReadSafeTensorsHeader(std::string_view text, uint64_t data_start, uint64_t data_size,
                             TensorIndex* index) {
  HeaderReader reader(text, data_start, data_size);
  return reader.Read(index);
}

}  // namespace oxide::tensor::internal
