#include "agent/model_check.hpp"

#include <algorithm>

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

}  // namespace

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
  if (format == tensor::ModelFormat::kUnknown) format = tensor::ClaimedFormat(map->view());
  auto index = tensor::IndexModel(map->view(), format);
  if (!index.ok()) {
    return Corrupt(path + ": does not parse as " + std::string(tensor::ToString(format)) + ": " +
                   index.status().message());
  }
  return Status::Ok();
}

}  // namespace oxide::agent
