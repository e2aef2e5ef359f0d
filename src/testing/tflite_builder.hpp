#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// Builds TFLite model files (FlatBuffers, identifier "TFL3") in code, holding only what the
// indexer reads: Model.version/subgraphs/description/buffers/metadata, SubGraph.tensors,
// Tensor.shape/type/buffer/name, Buffer.data or Buffer.offset/size. Written front to back
// (every uoffset points forward, vtables precede their tables), which FlatBuffers allows.
//
//   TfliteBuilder b;
//   uint32_t w = b.AddBuffer(F32Bytes({1, 2}));
//   b.AddTensor("dense/kernel", TfliteBuilder::kFloat32, {2}, w);
//   b.AddTensor("input", TfliteBuilder::kFloat32, {1, 2}, 0);  // buffer 0: no data
//   std::string file = b.Build();
namespace oxide::testing {

// Where the parts of the last Build() ended up, for corruption tests.
struct TfliteLayout {
  uint64_t model_table = 0;
  uint64_t model_vtable = 0;
  uint64_t buffers_vector = 0;    // the u32 count of Model.buffers
  uint64_t subgraphs_vector = 0;  // the u32 count of Model.subgraphs
  uint64_t first_tensor_table = 0;
  uint64_t first_tensor_vtable = 0;
  uint64_t first_tensor_name = 0;  // the u32 length of the first tensor's name
  std::vector<uint64_t> buffer_tables;
  std::vector<uint64_t> buffer_data;  // the u32 length of each data vector (0: none)
};

class TfliteBuilder {
 public:
  // TensorType enum values.
  static constexpr uint8_t kFloat32 = 0, kFloat16 = 1, kInt32 = 2, kUInt8 = 3, kInt64 = 4,
                           kString = 5, kInt8 = 9, kInt4 = 17, kBFloat16 = 18, kInt2 = 19,
                           kUInt4 = 20;

  TfliteBuilder();  // buffer 0 is the empty sentinel, as converters write it; one subgraph

  uint32_t AddBuffer(std::string_view data);
  // A buffer stored after the FlatBuffer and located by Buffer.offset/size (models > 2 GB).
  uint32_t AddOffsetBuffer(std::string_view data);
  TfliteBuilder& AddSubgraph();  // later AddTensor calls go to the new subgraph
  TfliteBuilder& AddTensor(std::string name, uint8_t type, std::vector<int32_t> shape,
                           uint32_t buffer);
  TfliteBuilder& AddMetadata(std::string name, uint32_t buffer);
  TfliteBuilder& SetDescription(std::string description);

  std::string Build(TfliteLayout* layout = nullptr) const;

 private:
  struct Tensor {
    std::string name;
    uint8_t type;
    std::vector<int32_t> shape;
    uint32_t buffer;
  };
  struct Buffer {
    std::string data;
    bool by_offset;
  };
  std::vector<Buffer> buffers_;
  std::vector<std::vector<Tensor>> subgraphs_;
  std::vector<std::pair<std::string, uint32_t>> metadata_;
  std::string description_;
};

// A small TFLite model: two subgraphs, FLOAT32 / FLOAT16 / INT8 weights (the INT8 one shared by
// two tensors), an INT32 bias, activations without data, a buffer no tensor references and a
// min_runtime_version metadata entry. `finetune_seed` != 0 nudges the float weights by small
// relative steps (the INT8 and INT32 ones stay untouched).
std::string SampleTflite(uint64_t finetune_seed = 0);

}  // namespace oxide::testing
