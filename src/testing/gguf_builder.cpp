#include "testing/gguf_builder.hpp"

#include <cstring>

#include "testing/onnx_builder.hpp"

namespace oxide::testing {

std::string GgufBuilder::U32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

std::string GgufBuilder::U64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

std::string GgufBuilder::Str(std::string_view s) { return U64(s.size()) + std::string(s); }

GgufBuilder& GgufBuilder::AddRaw(std::string key, uint32_t type, std::string value_bytes) {
  kvs_.push_back(Str(key) + U32(type) + value_bytes);
  return *this;
}

GgufBuilder& GgufBuilder::AddString(std::string key, std::string_view value) {
  return AddRaw(std::move(key), kTypeString, Str(value));
}

GgufBuilder& GgufBuilder::AddU32(std::string key, uint32_t value) {
  return AddRaw(std::move(key), kTypeU32, U32(value));
}

GgufBuilder& GgufBuilder::AddStringArray(std::string key, const std::vector<std::string>& values) {
  std::string v = U32(kTypeString) + U64(values.size());
  for (const std::string& s : values) v += Str(s);
  return AddRaw(std::move(key), kTypeArray, v);
}

GgufBuilder& GgufBuilder::SetAlignment(uint32_t alignment) {
  alignment_ = alignment;
  return AddU32("general.alignment", alignment);
}

GgufBuilder& GgufBuilder::AddTensor(std::string name, uint32_t ggml_type,
                                    std::vector<uint64_t> dims, std::string_view data) {
  tensors_.push_back({std::move(name), ggml_type, std::move(dims), std::string(data)});
  return *this;
}

std::string GgufBuilder::Build() const {
  std::string out = "GGUF" + U32(version_) + U64(tensors_.size()) + U64(kvs_.size());
  for (const std::string& kv : kvs_) out += kv;
  uint64_t offset = 0;
  std::string data;
  for (const Tensor& t : tensors_) {
    data.resize(offset, '\0');
    out += Str(t.name) + U32(static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) out += U64(d);
    out += U32(t.type) + U64(offset);
    data += t.data;
    offset = (data.size() + alignment_ - 1) / alignment_ * alignment_;
  }
  out.resize((out.size() + alignment_ - 1) / alignment_ * alignment_, '\0');
  data_start_ = out.size();
  return out + data;
}

namespace {

uint32_t Bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

uint16_t ToHalf(float f) {
  const uint32_t x = Bits(f);
  const uint32_t sign = (x >> 16) & 0x8000;
  const int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffff;
  if (exp <= 0) {  // subnormal or zero (test weights never need exact subnormal rounding)
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000;
    return static_cast<uint16_t>(sign | (mant >> (14 - exp)));
  }
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00);
  uint32_t h = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;
  return static_cast<uint16_t>(h);
}

uint16_t ToBf16(float f) {
  const uint32_t x = Bits(f);
  return static_cast<uint16_t>((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

template <typename F>
std::string Convert(std::string_view f32_bytes, F to16) {
  std::string out;
  for (float f : FromF32Bytes(f32_bytes)) {
    const uint16_t h = to16(f);
    out += static_cast<char>(h & 0xff);
    out += static_cast<char>(h >> 8);
  }
  return out;
}

}  // namespace

std::string F32ToF16Bytes(std::string_view f32_bytes) { return Convert(f32_bytes, ToHalf); }
std::string F32ToBF16Bytes(std::string_view f32_bytes) { return Convert(f32_bytes, ToBf16); }

std::string SampleGguf(uint32_t version, uint64_t finetune_seed) {
  auto weights = [&](size_t n, uint64_t seed) {
    std::string w = RandomNormalF32(n, seed);
    return finetune_seed != 0 ? FineTuneF32(w, finetune_seed + seed, 1e-2f) : w;
  };
  GgufBuilder b(version);
  b.AddString("general.architecture", "llama");
  b.AddString("general.name", "oxide-test");
  b.AddU32("llama.context_length", 128);
  b.AddStringArray("tokenizer.ggml.tokens", {"<s>", "</s>", "a", "b"});
  b.AddTensor("token_embd.weight", GgufBuilder::kF32, {64, 32}, weights(64 * 32, 1));
  b.AddTensor("blk.0.attn_q.weight", GgufBuilder::kF16, {64, 64},
              F32ToF16Bytes(weights(64 * 64, 2)));
  b.AddTensor("blk.0.ffn_up.weight", GgufBuilder::kBF16, {64, 16},
              F32ToBF16Bytes(weights(64 * 16, 3)));
  // Q8_0: 64 x 8 elements = 16 blocks of 34 bytes, opaque; identical in every version.
  std::string q8(16 * 34, '\0');
  for (size_t i = 0; i < q8.size(); ++i) q8[i] = static_cast<char>(i * 37 + 11);
  b.AddTensor("blk.0.ffn_down.weight", GgufBuilder::kQ8_0, {64, 8}, q8);
  b.AddTensor("output_norm.bias", GgufBuilder::kI8, {7},
              std::string("\x01\x02\x03\x04\x05\x06\x07", 7));
  return b.Build();
}

}  // namespace oxide::testing
