// SafeTensors indexer: 8-byte little-endian header length N, N bytes of JSON (read by
// safetensors_header.cpp), then the data buffer.
#include <string>
#include <string_view>

#include "base/coding.hpp"
#include "tensor/index_util.hpp"
#include "tensor/safetensors_header.hpp"
#include "tensor/tensor_index.hpp"

namespace oxide::tensor {
namespace {

// Real headers are kilobytes to tens of megabytes; the bound keeps a hostile length from making
// us scan a huge blob.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;
constexpr uint64_t kLengthPrefix = 8;

Result<TensorIndex> IndexParsed(std::string_view file, uint64_t header_len) {
  TensorIndex index;
  index.format = ModelFormat::kSafeTensors;
  const uint64_t data_start = kLengthPrefix + header_len;
  OXIDE_RETURN_IF_ERROR(internal::ReadSafeTensorsHeader(
      file.substr(kLengthPrefix, header_len), data_start, file.size() - data_start, &index));
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
  return IndexParsed(file, header_len);
}

}  // namespace oxide::tensor
