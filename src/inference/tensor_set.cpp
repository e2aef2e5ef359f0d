#include "inference/tensor_set.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/coding.hpp"
#include "base/file_util.hpp"

namespace oxide::inference {

uint64_t NamedTensor::element_count() const {
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) return 0;
    if (d != 0 && n > UINT64_MAX / static_cast<uint64_t>(d)) return 0;
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

const NamedTensor* TensorSet::Find(std::string_view name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Result<TensorSet> ParseTensorSet(std::string_view safetensors) {
  OXIDE_ASSIGN_OR_RETURN(tensor::TensorIndex index, tensor::IndexSafeTensors(safetensors));
  TensorSet set;
  set.metadata = std::move(index.metadata);
  for (auto& info : index.tensors) {
    if (tensor::ElementWidth(info.dtype) == 0) {
      return Unsupported("tensor '" + info.name + "' has dtype " +
                         std::string(tensor::ToString(info.dtype)) + " without a fixed width");
    }
    NamedTensor t;
    t.name = std::move(info.name);
    t.dtype = info.dtype;
    t.dims = std::move(info.dims);
    t.data.assign(safetensors.substr(info.offset, info.length));
    set.tensors.push_back(std::move(t));
  }
  std::sort(set.tensors.begin(), set.tensors.end(),
            [](const NamedTensor& a, const NamedTensor& b) { return a.name < b.name; });
  return set;
}

Result<std::string> SerializeTensorSet(const TensorSet& set) {
  std::vector<const NamedTensor*> sorted;
  for (const auto& t : set.tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(),
            [](const NamedTensor* a, const NamedTensor* b) { return a->name < b->name; });
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!set.metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : set.metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const NamedTensor& t = *sorted[i];
    if (t.name.empty() || t.name == "__metadata__") {
      return InvalidArgument("tensor name '" + t.name + "' is not allowed");
    }
    if (i > 0 && sorted[i - 1]->name == t.name) {
      return InvalidArgument("tensor name '" + t.name + "' repeats");
    }
    const size_t width = tensor::ElementWidth(t.dtype);
    const uint64_t count = t.element_count();
    const bool zero_dim = std::find(t.dims.begin(), t.dims.end(), 0) != t.dims.end();
    if (width == 0 || (count == 0 && !zero_dim) || t.data.size() / width != count ||
        t.data.size() % width != 0) {
      return InvalidArgument("tensor '" + t.name + "': " + std::to_string(t.data.size()) +
                             " bytes do not match its dtype and shape");
    }
    header[t.name] = {{"dtype", std::string(tensor::ToString(t.dtype))},
                      {"shape", t.dims},
                      {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  std::string json = header.dump();
  // Pad the header with spaces so the data buffer starts 8-byte aligned, as the spec suggests.
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out;
  PutFixed64(&out, json.size());
  out += json;
  for (const NamedTensor* t : sorted) out += t->data;
  return out;
}

Result<TensorSet> ReadTensorSetFile(const std::string& path) {
  OXIDE_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path, size_t{1} << 30));
  Result<TensorSet> set = ParseTensorSet(bytes);
  if (!set.ok()) return std::move(set).status().WithContext(path);
  return set;
}

Status WriteTensorSetFile(const std::string& path, const TensorSet& set) {
  OXIDE_ASSIGN_OR_RETURN(std::string bytes, SerializeTensorSet(set));
  return AtomicWriteFile(path, bytes);
}

}  // namespace oxide::inference
