#include "agent/model_check.hpp"

#include "base/file_util.hpp"
#include "base/sha256.hpp"
#include "tensor/tensor_index.hpp"

namespace oxide::agent {

Status VerifyModelFile(const std::string& path, const std::string& sha256_hex,
                       uint64_t size_bytes) {
  OXIDE_ASSIGN_OR_RETURN(auto map, MappedFile::Open(path));
  if (size_bytes != 0 && map->size() != size_bytes) {
    return Corrupt(path + ": size " + std::to_string(map->size()) + ", expected " +
                   std::to_string(size_bytes));
  }
  std::string actual = ToHex(Sha256::Of(map->data(), map->size()));
  if (actual != sha256_hex) {
    return Corrupt(path + ": SHA-256 " + actual + ", expected " + sha256_hex);
  }
  tensor::ModelFormat format = tensor::DetectFormat(map->view());
  auto index = tensor::IndexModel(map->view(), format);
  if (!index.ok()) {
    return Corrupt(path + ": does not parse as " + std::string(tensor::ToString(format)) + ": " +
                   index.status().message());
  }
  return Status::Ok();
}

}  // namespace oxide::agent
