#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor/tensor_index.hpp"   // DType only (header-only use; no link dependency)
#include "testing/onnx_builder.hpp"  // RandomNormalF32 / FineTuneF32 / F32Bytes for tensor data

// Builds SafeTensors files in code. The header JSON is written by hand (no JSON library), so
// tests can also produce headers a JSON library would refuse to emit (duplicate keys). Example:
//
//   SafetensorsBuilder b;
//   b.AddMetadata("format", "pt");
//   b.AddTensor("w1", DType::kF32, {4, 4}, RandomNormalF32(16, /*seed=*/1));
//   std::string file = b.Build();
namespace oxide::testing {

class SafetensorsBuilder {
 public:
  // Data is laid out in insertion order, back to back; data_offsets are computed.
  SafetensorsBuilder& AddTensor(std::string name, tensor::DType dtype, std::vector<int64_t> shape,
                                std::string_view data);
  // Same with the dtype string written verbatim ("F32", or a bad one for tests).
  SafetensorsBuilder& AddTensor(std::string name, std::string dtype, std::vector<int64_t> shape,
                                std::string_view data);
  SafetensorsBuilder& AddMetadata(std::string key, std::string value);

  // The header JSON (tensors in insertion order; __metadata__ first when present).
  std::string HeaderJson() const;
  // Length prefix + header padded with spaces to a multiple of 8 (as the reference writer does)
  // + data.
  std::string Build() const;

  // Assembles a file from any header text and data bytes (for malformed-header tests).
  static std::string Assemble(std::string_view header_json, std::string_view data);
  // SafeTensors dtype name ("F32", "BF16", ...); "" for types SafeTensors lacks.
  static std::string DTypeName(tensor::DType dtype);
  // JSON string literal with quotes and escapes.
  static std::string Quote(std::string_view s);

 private:
  struct Entry {
    std::string name;
    std::string dtype;
    std::vector<int64_t> shape;
    uint64_t begin;
    uint64_t end;
  };
  std::vector<Entry> entries_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::string data_;
};

// A small SafeTensors file with metadata and F32/BF16/I64/U8 tensors; `finetune_seed` != 0
// perturbs the F32 weights (see SampleOnnxModel).
std::string SampleSafetensors(uint64_t seed = 1, uint64_t finetune_seed = 0);

}  // namespace oxide::testing
