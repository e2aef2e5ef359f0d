// The torch-exported models shipped in examples/models (README quick start, demo, E2E) must
// index as what they are: six Linear parameters. A regression here would silently send the demo
// down the binary (format-agnostic) path.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "base/file_util.hpp"
#include "tensor/tensor_index.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::tensor {
namespace {

const std::string kModels = std::string(OXIDE_SOURCE_DIR) + "/examples/models/";

struct Expected {
  const char* name;
  std::vector<int64_t> dims;
};
// MLP 784-512-256-10 (examples/models/PROVENANCE.md); torch stores Linear weights [out, in].
const Expected kTensors[] = {{"w1", {512, 784}}, {"b1", {512}},     {"w2", {256, 512}},
                             {"b2", {256}},      {"w3", {10, 256}}, {"b3", {10}}};

TEST(ExampleModels, IndexAsTheSixMlpParameters) {
  for (const char* file :
       {"mlp-mnist-v1.onnx", "mlp-mnist-v2-last-layer.onnx", "mlp-mnist-v2-all-layers.onnx"}) {
    SCOPED_TRACE(file);
    auto bytes = ReadFileToString(kModels + file);
    ASSERT_OK(bytes.status());
    ASSERT_EQ(DetectFormat(*bytes), ModelFormat::kOnnx);
    auto index = IndexModel(*bytes, ModelFormat::kOnnx);
    ASSERT_OK(index.status());
    std::vector<std::string> names;
    for (const TensorInfo& t : index->tensors) names.push_back(t.name);
    ASSERT_EQ(index->tensors.size(), std::size(kTensors)) << ::testing::PrintToString(names);
    uint64_t data_bytes = 0;
    for (const Expected& e : kTensors) {
      auto it = std::find_if(index->tensors.begin(), index->tensors.end(),
                             [&](const TensorInfo& t) { return t.name == e.name; });
      ASSERT_NE(it, index->tensors.end()) << e.name << " in " << ::testing::PrintToString(names);
      EXPECT_EQ(it->dtype, DType::kF32) << e.name;
      EXPECT_EQ(it->dims, e.dims) << e.name;
      EXPECT_EQ(it->storage, Storage::kRaw) << e.name;
      data_bytes += it->length;
    }
    // 535,818 float32 parameters: everything but ~600 bytes of graph framing is tensor data.
    EXPECT_EQ(data_bytes, 535818u * 4);
    EXPECT_LT(bytes->size() - data_bytes, 1024u);
  }
}

}  // namespace
}  // namespace oxide::tensor
