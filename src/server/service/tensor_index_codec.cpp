#include "server/service/tensor_index_codec.hpp"

#include "base/coding.hpp"

namespace oxide::server {
namespace {

constexpr uint8_t kVersion = 1;

void PutBytes(std::string* out, std::string_view s) {
  PutVarint64(out, s.size());
  out->append(s);
}

// Reads what EncodeTensorIndex wrote; every length is checked against the bytes left.
class Reader {
 public:
  explicit Reader(std::string_view d)
      : p_(reinterpret_cast<const uint8_t*>(d.data())), end_(p_ + d.size()) {}
  bool Varint(uint64_t* v) { return GetVarint64(&p_, end_, v); }
  bool Byte(uint8_t* b) {
    if (p_ == end_) return false;
    *b = *p_++;
    return true;
  }
  bool Bytes(std::string* s) {
    uint64_t n = 0;
    if (!Varint(&n) || n > static_cast<uint64_t>(end_ - p_)) return false;
    s->assign(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  // Bounds a count by the bytes left (each element takes at least `min_bytes`).
  bool Count(uint64_t* n, uint64_t min_bytes) {
    return Varint(n) && *n <= static_cast<uint64_t>(end_ - p_) / min_bytes;
  }
  bool done() const { return p_ == end_; }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace

std::string EncodeTensorIndex(const tensor::TensorIndex& index) {
  std::string out;
  out.reserve(16 + index.tensors.size() * 32);
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(index.format));
  PutVarint64(&out, index.tensors.size());
  for (const auto& t : index.tensors) {
    PutBytes(&out, t.name);
    out.push_back(static_cast<char>(t.dtype));
    out.push_back(static_cast<char>(t.storage));
    PutVarint64(&out, t.dims.size());
    for (int64_t d : t.dims) PutVarint64(&out, static_cast<uint64_t>(d));
    PutVarint64(&out, t.offset);
    PutVarint64(&out, t.length);
    PutBytes(&out, t.external_location);
  }
  PutVarint64(&out, index.metadata.size());
  for (const auto& [k, v] : index.metadata) {
    PutBytes(&out, k);
    PutBytes(&out, v);
  }
  return out;
}

Result<tensor::TensorIndex> DecodeTensorIndex(std::string_view data) {
  const Status bad = Corrupt("stored tensor index is unreadable");
  Reader r(data);
  uint8_t version = 0, format = 0;
  if (!r.Byte(&version) || version != kVersion || !r.Byte(&format) ||
      format > static_cast<uint8_t>(tensor::ModelFormat::kTflite)) {
    return bad;
  }
  tensor::TensorIndex index;
  index.format = static_cast<tensor::ModelFormat>(format);
  uint64_t n = 0;
  if (!r.Count(&n, 7)) return bad;
  index.tensors.resize(n);
  for (auto& t : index.tensors) {
    uint8_t dtype = 0, storage = 0;
    uint64_t ndims = 0;
    if (!r.Bytes(&t.name) || !r.Byte(&dtype) || !r.Byte(&storage) || !r.Count(&ndims, 1) ||
        dtype > static_cast<uint8_t>(tensor::kLastDType) ||
        storage > static_cast<uint8_t>(tensor::Storage::kExternal)) {
      return bad;
    }
    t.dtype = static_cast<tensor::DType>(dtype);
    t.storage = static_cast<tensor::Storage>(storage);
    t.dims.resize(ndims);
    for (auto& d : t.dims) {
      uint64_t v = 0;
      if (!r.Varint(&v)) return bad;
      d = static_cast<int64_t>(v);
    }
    if (!r.Varint(&t.offset) || !r.Varint(&t.length) || !r.Bytes(&t.external_location)) {
      return bad;
    }
  }
  uint64_t m = 0;
  if (!r.Count(&m, 2)) return bad;
  index.metadata.resize(m);
  for (auto& [k, v] : index.metadata) {
    if (!r.Bytes(&k) || !r.Bytes(&v)) return bad;
  }
  if (!r.done()) return bad;
  return index;
}

}  // namespace oxide::server
