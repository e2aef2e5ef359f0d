#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// Builds GGUF files (versions 2 and 3, little-endian) in code. Metadata values are given as
// their encoded bytes with a type id, so tests can also write nested arrays or malformed values.
//
//   GgufBuilder b;
//   b.AddString("general.architecture", "llama");
//   b.AddTensor("tok_embd.weight", GgufBuilder::kF32, {8, 4}, RandomNormalF32(32, 1));
//   std::string file = b.Build();
namespace oxide::testing {

class GgufBuilder {
 public:
  // ggml type ids used by tests.
  static constexpr uint32_t kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ8_0 = 8, kQ4_K = 12, kI8 = 24,
                            kBF16 = 30;
  // Metadata value type ids.
  static constexpr uint32_t kTypeU32 = 4, kTypeF32 = 6, kTypeString = 8, kTypeArray = 9;

  explicit GgufBuilder(uint32_t version = 3) : version_(version) {}

  GgufBuilder& AddString(std::string key, std::string_view value);
  GgufBuilder& AddU32(std::string key, uint32_t value);
  GgufBuilder& AddStringArray(std::string key, const std::vector<std::string>& values);
  // Any value: type id and its encoded bytes verbatim.
  GgufBuilder& AddRaw(std::string key, uint32_t type, std::string value_bytes);
  // Writes general.alignment (uint32) and aligns the data section and offsets to it.
  GgufBuilder& SetAlignment(uint32_t alignment);
  // Data is placed in insertion order, each tensor at the next multiple of the alignment.
  // `dims` in ggml order (ne[0] first).
  GgufBuilder& AddTensor(std::string name, uint32_t ggml_type, std::vector<uint64_t> dims,
                         std::string_view data);

  std::string Build() const;
  // Offset of the data section in the last Build() (for corruption tests).
  uint64_t data_start() const { return data_start_; }

  // Encoding helpers.
  static std::string U32(uint32_t v);
  static std::string U64(uint64_t v);
  static std::string Str(std::string_view s);  // u64 length + bytes

 private:
  struct Tensor {
    std::string name;
    uint32_t type;
    std::vector<uint64_t> dims;
    std::string data;
  };
  uint32_t version_;
  uint32_t alignment_ = 32;
  std::vector<std::string> kvs_;  // encoded key/value pairs
  std::vector<Tensor> tensors_;
  mutable uint64_t data_start_ = 0;
};

// Float32 bytes converted to IEEE half / bfloat16 bytes (round to nearest even), for fp16 and
// bf16 test tensors.
std::string F32ToF16Bytes(std::string_view f32_bytes);
std::string F32ToBF16Bytes(std::string_view f32_bytes);

// A small GGUF model: architecture/name metadata, a tokenizer string array, an F32 embedding,
// F16 and BF16 weights, a Q8_0 matrix and an I8 vector. `finetune_seed` != 0 nudges the float
// tensors by small relative steps (the Q8_0 and I8 ones stay untouched).
std::string SampleGguf(uint32_t version = 3, uint64_t finetune_seed = 0);

}  // namespace oxide::testing
