#include "testing/safetensors_builder.hpp"

#include <cstdio>

#include "base/coding.hpp"

namespace oxide::testing {

using tensor::DType;

SafetensorsBuilder& SafetensorsBuilder::AddTensor(std::string name, DType dtype,
                                                  std::vector<int64_t> shape,
                                                  std::string_view data) {
  return AddTensor(std::move(name), DTypeName(dtype), std::move(shape), data);
}

SafetensorsBuilder& SafetensorsBuilder::AddTensor(std::string name, std::string dtype,
                                                  std::vector<int64_t> shape,
                                                  std::string_view data) {
  const uint64_t begin = data_.size();
  data_.append(data);
  entries_.push_back({std::move(name), std::move(dtype), std::move(shape), begin, data_.size()});
  return *this;
}

SafetensorsBuilder& SafetensorsBuilder::AddMetadata(std::string key, std::string value) {
  metadata_.emplace_back(std::move(key), std::move(value));
  return *this;
}

std::string SafetensorsBuilder::HeaderJson() const {
  std::string j = "{";
  bool first = true;
  auto comma = [&] {
    if (!first) j += ",";
    first = false;
  };
  if (!metadata_.empty()) {
    comma();
    j += "\"__metadata__\":{";
    for (size_t i = 0; i < metadata_.size(); ++i) {
      if (i > 0) j += ",";
      j += Quote(metadata_[i].first) + ":" + Quote(metadata_[i].second);
    }
    j += "}";
  }
  for (const Entry& e : entries_) {
    comma();
    j += Quote(e.name) + ":{\"dtype\":" + Quote(e.dtype) + ",\"shape\":[";
    for (size_t i = 0; i < e.shape.size(); ++i) {
      if (i > 0) j += ",";
      j += std::to_string(e.shape[i]);
    }
    j += "],\"data_offsets\":[" + std::to_string(e.begin) + "," + std::to_string(e.end) + "]}";
  }
  j += "}";
  return j;
}

std::string SafetensorsBuilder::Build() const {
  std::string header = HeaderJson();
  header.append((8 - header.size() % 8) % 8, ' ');
  return Assemble(header, data_);
}

std::string SafetensorsBuilder::Assemble(std::string_view header_json, std::string_view data) {
  std::string out;
  PutFixed64(&out, header_json.size());
  out.append(header_json);
  out.append(data);
  return out;
}

std::string SafetensorsBuilder::DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF64:
      return "F64";
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
    case DType::kI64:
      return "I64";
    case DType::kI32:
      return "I32";
    case DType::kI16:
      return "I16";
    case DType::kI8:
      return "I8";
    case DType::kU8:
      return "U8";
    case DType::kU16:
      return "U16";
    case DType::kU32:
      return "U32";
    case DType::kU64:
      return "U64";
    case DType::kBool:
      return "BOOL";
    case DType::kF8E4M3:
      return "F8_E4M3";
    case DType::kF8E5M2:
      return "F8_E5M2";
    default:
      return "";
  }
}

std::string SafetensorsBuilder::Quote(std::string_view s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      q += '\\';
      q += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      q += buf;
    } else {
      q += c;
    }
  }
  q += '"';
  return q;
}

std::string SampleSafetensors(uint64_t seed, uint64_t finetune_seed) {
  auto weights = [&](size_t count, uint64_t salt) {
    std::string w = RandomNormalF32(count, seed * 1000 + salt);
    return finetune_seed == 0 ? w : FineTuneF32(w, finetune_seed * 1000 + salt);
  };
  SafetensorsBuilder b;
  b.AddMetadata("format", "pt");
  b.AddTensor("embed.weight", DType::kF32, {16, 8}, weights(128, 1));
  b.AddTensor("norm.weight", DType::kBF16, {8}, std::string(16, '\x3f'));
  b.AddTensor("positions", DType::kI64, {4}, I64Bytes({0, 1, 2, 3}));
  b.AddTensor("mask", DType::kU8, {8}, std::string("\1\1\1\0\0\1\0\1", 8));
  b.AddTensor("head.weight", DType::kF32, {8, 4}, weights(32, 2));
  return b.Build();
}

}  // namespace oxide::testing
