#include "agent/model_check.hpp"

#include <algorithm>

#include "base/coding.hpp"
#include "base/file_util.hpp"
#include "base/sha256.hpp"
#include "tensor/tensor_index.hpp"

namespace oxide::agent {

namespace {

Result<Digest> HashBlocks(const uint8_t* data, size_t size,
                          const std::function<bool()>& should_stop) {
  Sha256 h;
  for (size_t off = 0; off < size; off += kStopCheckBlock) {
    if (should_stop && should_stop()) return Cancelled("hashing stopped: agent stopping");
    h.Update(data + off, std::min(kStopCheckBlock, size - off));
  }
  return h.Finish();
}

// A protobuf varint at `*pos`; false when cut short or longer than 10 bytes.
bool ReadVarint(std::string_view b, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 70 && *pos < b.size(); shift += 7) {
    auto byte = static_cast<uint8_t>(b[(*pos)++]);
    *v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

bool ClaimsOnnx(std::string_view b) {
  constexpr uint64_t kMaxIrVersion = 255;  // ONNX IR versions are small (10 in 2024)
  size_t pos = 0;
  uint64_t tag = 0, ir_version = 0, next = 0;
  if (!ReadVarint(b, &pos, &tag) || tag != 0x08) return false;  // field 1 (ir_version), varint
  if (!ReadVarint(b, &pos, &ir_version) || ir_version == 0 || ir_version > kMaxIrVersion) {
    return false;
  }
  if (!ReadVarint(b, &pos, &next)) return false;
  // The next ModelProto field: model_version (5) is a varint, the others are length-delimited
  // (producer_name 2, producer_version 3, domain 4, doc_string 6, graph 7, opset_import 8,
  // metadata_props 14, training_info 20, functions 25).
  uint64_t field = next >> 3, wire_type = next & 7;
  if (field == 5) return wire_type == 0;
  for (uint64_t f : {2, 3, 4, 6, 7, 8, 14, 20, 25}) {
    if (field == f) return wire_type == 2;
  }
  return false;
}

bool ClaimsSafeTensors(std::string_view b) {
  constexpr uint64_t kMaxHeader = uint64_t{100} << 20;
  if (b.size() < 9) return false;
  const uint64_t n = DecodeFixed64(reinterpret_cast<const uint8_t*>(b.data()));
  return n >= 2 && n <= kMaxHeader && b[8] == '{';
}

}  // namespace

tensor::ModelFormat ClaimedFormat(std::string_view file) {
  if (ClaimsSafeTensors(file)) return tensor::ModelFormat::kSafeTensors;
  if (ClaimsOnnx(file)) return tensor::ModelFormat::kOnnx;
  return tensor::ModelFormat::kUnknown;
}

Result<Digest> HashFile(const std::string& path, const std::function<bool()>& should_stop) {
  OXIDE_ASSIGN_OR_RETURN(auto map, MappedFile::Open(path));
  return HashBlocks(map->data(), map->size(), should_stop);
}

Status VerifyModelFile(const std::string& path, const std::string& sha256_hex, uint64_t size_bytes,
                       const std::function<bool()>& should_stop) {
  OXIDE_ASSIGN_OR_RETURN(auto map, MappedFile::Open(path));
  if (size_bytes != 0 && map->size() != size_bytes) {
    return Corrupt(path + ": size " + std::to_string(map->size()) + ", expected " +
                   std::to_string(size_bytes));
  }
  OXIDE_ASSIGN_OR_RETURN(Digest digest, HashBlocks(map->data(), map->size(), should_stop));
  std::string actual = ToHex(digest);
  if (actual != sha256_hex) {
    return Corrupt(path + ": SHA-256 " + actual + ", expected " + sha256_hex);
  }
  tensor::ModelFormat format = tensor::DetectFormat(map->view());
  if (format == tensor::ModelFormat::kUnknown) format = ClaimedFormat(map->view());
  auto index = tensor::IndexModel(map->view(), format);
  if (!index.ok()) {
    return Corrupt(path + ": does not parse as " + std::string(tensor::ToString(format)) + ": " +
                   index.status().message());
  }
  return Status::Ok();
}

}  // namespace oxide::agent
