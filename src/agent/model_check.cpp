#include "agent/model_check.hpp"

#include <algorithm>

#include "agent/model_at_rest.hpp"
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

Result<Digest> HashFile(const std::string& path, const std::function<bool()>& should_stop,
                        const crypto::EncryptionKey* at_rest_key) {
  if (at_rest_key != nullptr) {
    OXIDE_ASSIGN_OR_RETURN(PlainDigest d, HashEncryptedModel(path, *at_rest_key, should_stop));
    return d.sha256;
  }
  OXIDE_ASSIGN_OR_RETURN(auto map, MappedFile::Open(path));
  return HashBlocks(map->data(), map->size(), should_stop);
}

Status VerifyModelFile(const std::string& path, const std::string& sha256_hex, uint64_t size_bytes,
                       const std::function<bool()>& should_stop,
                       const crypto::EncryptionKey* at_rest_key) {
  if (at_rest_key != nullptr) {
    OXIDE_ASSIGN_OR_RETURN(PlainDigest d, HashEncryptedModel(path, *at_rest_key, should_stop));
    if (size_bytes != 0 && d.size != size_bytes) {
      return Corrupt(path + ": plaintext size " + std::to_string(d.size) + ", expected " +
                     std::to_string(size_bytes));
    }
    if (ToHex(d.sha256) != sha256_hex) {
      return Corrupt(path + ": plaintext SHA-256 " + ToHex(d.sha256) + ", expected " + sha256_hex);
    }
    return Status::Ok();
  }
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
