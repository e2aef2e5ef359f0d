// SafeTensors indexer: 8-byte little-endian header length N, N bytes of JSON, then the data
// buffer. nlohmann is used only here, in non-throwing mode, and anything it might still throw
// is turned into kCorrupt at this edge.
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/coding.hpp"
#include "tensor/index_util.hpp"
#include "tensor/tensor_index.hpp"

namespace oxide::tensor {
namespace {

using Json = nlohmann::json;

// Real headers are kilobytes; the bound keeps a hostile length from making us parse (and
// build a DOM for) a huge blob.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;
constexpr uint64_t kLengthPrefix = 8;
constexpr std::string_view kMetadataKey = "__metadata__";

Result<DType> ParseDType(const std::string& s) {
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
  return Unsupported("unsupported dtype '" + s + "'");
}

// A JSON number that is a non-negative integer (nlohmann stores those as unsigned).
bool GetUnsigned(const Json& j, uint64_t* out) {
  if (!j.is_number_unsigned()) return false;
  *out = j.get<uint64_t>();
  return true;
}

// nlohmann keeps the last of duplicate keys silently; a header where one tensor name maps to two
// ranges is ambiguous, so the parse callback records every duplicate it sees.
Result<Json> ParseHeader(std::string_view text) {
  std::vector<std::unordered_set<std::string>> keys_per_object;
  std::string duplicate;
  bool has_duplicate = false;
  auto callback = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        keys_per_object.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!keys_per_object.empty()) keys_per_object.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!keys_per_object.empty() && parsed.is_string()) {
          const std::string& key = parsed.get_ref<const std::string&>();
          if (!keys_per_object.back().insert(key).second && !has_duplicate) {
            has_duplicate = true;
            duplicate = key;
          }
        }
        break;
      default:
        break;
    }
    return true;
  };
  Json header = Json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  if (header.is_discarded()) return Corrupt("safetensors header is not valid JSON");
  if (has_duplicate) return Corrupt("duplicate key '" + duplicate + "' in safetensors header");
  if (!header.is_object()) return Corrupt("safetensors header is not a JSON object");
  return header;
}

Status ParseMetadata(const Json& j, TensorIndex* index) {
  if (!j.is_object()) return Corrupt("__metadata__ is not an object");
  for (const auto& [key, value] : j.items()) {
    if (!value.is_string()) return Corrupt("__metadata__ value for '" + key + "' is not a string");
    index->metadata.emplace_back(key, value.get<std::string>());
  }
  return Status::Ok();
}

Status ParseTensor(const std::string& name, const Json& j, uint64_t data_start, uint64_t data_size,
                   TensorInfo* t) {
  t->name = name;
  if (!j.is_object()) return Corrupt("entry is not an object");
  const auto dtype = j.find("dtype");
  const auto shape = j.find("shape");
  const auto offsets = j.find("data_offsets");
  if (dtype == j.end() || !dtype->is_string()) return Corrupt("missing or non-string dtype");
  if (shape == j.end() || !shape->is_array()) return Corrupt("missing or non-array shape");
  if (offsets == j.end() || !offsets->is_array() || offsets->size() != 2) {
    return Corrupt("data_offsets is not [begin, end]");
  }
  OXIDE_ASSIGN_OR_RETURN(t->dtype, ParseDType(dtype->get<std::string>()));
  uint64_t elements = 1;
  for (const Json& d : *shape) {
    uint64_t dim = 0;
    if (!GetUnsigned(d, &dim) || dim > static_cast<uint64_t>(INT64_MAX)) {
      return Corrupt("shape entry is not a non-negative integer");
    }
    if (__builtin_mul_overflow(elements, dim, &elements)) return Corrupt("shape overflows");
    t->dims.push_back(static_cast<int64_t>(dim));
  }
  uint64_t begin = 0, end = 0;
  if (!GetUnsigned((*offsets)[0], &begin) || !GetUnsigned((*offsets)[1], &end)) {
    return Corrupt("data_offsets are not non-negative integers");
  }
  if (begin > end || end > data_size) {
    return Corrupt("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                   "] outside data of " + std::to_string(data_size) + " bytes");
  }
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(elements, uint64_t{ElementWidth(t->dtype)}, &bytes) ||
      bytes != end - begin) {
    return Corrupt("data size " + std::to_string(end - begin) + " does not match shape");
  }
  t->storage = Storage::kRaw;
  t->offset = data_start + begin;
  t->length = end - begin;
  return Status::Ok();
}

Result<TensorIndex> IndexParsed(std::string_view file, uint64_t header_len) {
  OXIDE_ASSIGN_OR_RETURN(Json header, ParseHeader(file.substr(kLengthPrefix, header_len)));
  TensorIndex index;
  index.format = ModelFormat::kSafeTensors;
  const uint64_t data_start = kLengthPrefix + header_len;
  const uint64_t data_size = file.size() - data_start;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      OXIDE_RETURN_IF_ERROR(ParseMetadata(value, &index));
      continue;
    }
    TensorInfo t;
    OXIDE_RETURN_IF_ERROR(
        ParseTensor(key, value, data_start, data_size, &t).WithContext("tensor '" + key + "'"));
    index.tensors.push_back(std::move(t));
  }
  OXIDE_RETURN_IF_ERROR(internal::SortAndCheckRanges(&index.tensors, file.size()));
  return index;
}

}  // namespace

Result<TensorIndex> IndexSafeTensors(std::string_view file) {
  if (file.size() < kLengthPrefix) return Corrupt("safetensors file shorter than 8 bytes");
  const uint64_t header_len = DecodeFixed64(reinterpret_cast<const uint8_t*>(file.data()));
  if (header_len > file.size() - kLengthPrefix) {
    return Corrupt("safetensors header length " + std::to_string(header_len) + " past end");
  }
  if (header_len > kMaxHeaderBytes) {
    return Corrupt("safetensors header of " + std::to_string(header_len) +
                   " bytes exceeds the 100 MiB limit");
  }
  // Non-throwing parse above; this only guards against a library surprise escaping the adapter.
  try {
    return IndexParsed(file, header_len);
  } catch (const std::exception& e) {
    return Corrupt(std::string("safetensors header: ") + e.what());
  }
}

}  // namespace oxide::tensor
