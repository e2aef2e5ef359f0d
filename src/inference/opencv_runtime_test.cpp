// The OpenCV DNN runtime on the committed torch exports (tests/models) and on graphs built here.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <set>

#include "inference/coverage.hpp"
#include "inference/golden.hpp"
#include "inference/runtime.hpp"

namespace oxide::inference {
namespace {

const std::string kModels = std::string(OXIDE_SOURCE_DIR) + "/tests/models";

NamedTensor Zeros(std::string name, std::vector<int64_t> dims) {
  NamedTensor t;
  t.name = std::move(name);
  t.dims = std::move(dims);
  t.data.assign(t.element_count() * 4, '\0');
  return t;
}

TEST(OpenCvRuntime, ReportsTheGraphSignature) {
  auto rt = MakeRuntime();
  ASSERT_NE(rt, nullptr);
  auto s = rt->Load(kModels + "/gru-op13.onnx", {});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const auto& sig = (*s)->signature();
  ASSERT_EQ(sig.inputs.size(), 1u);
  EXPECT_EQ(sig.inputs[0].name, "x");
  EXPECT_EQ(sig.inputs[0].dtype, tensor::DType::kF32);
  ASSERT_EQ(sig.inputs[0].dims.size(), 3u);
  EXPECT_EQ(sig.inputs[0].dims[2].size, 8);
  ASSERT_EQ(sig.outputs.size(), 1u);
  EXPECT_EQ(sig.outputs[0].name, "y");
}

TEST(OpenCvRuntime, RefusesWrongInputsNamingThem) {
  auto rt = MakeRuntime();
  auto s = rt->Load(kModels + "/mlp-op13.onnx", {});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  TensorSet wrong_shape;
  wrong_shape.tensors.push_back(Zeros("x", {1, 8}));
  auto r = (*s)->Run(wrong_shape);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "input 'x' has shape [1,8], the model wants [1,16]");

  TensorSet unknown;
  unknown.tensors.push_back(Zeros("x", {1, 16}));
  unknown.tensors.push_back(Zeros("z", {1}));
  r = (*s)->Run(unknown);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "input 'z' is not an input of the model");

  r = (*s)->Run(TensorSet{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "input 'x' missing");

  TensorSet ints;
  ints.tensors.push_back(Zeros("x", {1, 16}));
  ints.tensors[0].dtype = tensor::DType::kI32;
  r = (*s)->Run(ints);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("input 'x' has dtype I32"), std::string::npos);
}

TEST(OpenCvRuntime, RefusesAFileThatIsNotAModel) {
  auto rt = MakeRuntime();
  auto s = rt->Load(kModels + "/mlp-op13.golden.safetensors", {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), ErrorCode::kCorrupt);
  s = rt->Load(kModels + "/no-such-model.onnx", {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), ErrorCode::kNotFound);
}

const char* const kExpectedRunning[] = {
    "mlp-op13", "mlp-op17", "cnn-op13",  "cnn-op17",  "mobilenet-op13",   "mobilenet-op17",
    "gru-op13", "gru-op17", "lstm-op13", "lstm-op17", "transformer-op13", "transformer-op17"};

// Acceptance 2 of issue #11: every fixture that loads matches torch within 1e-4, and the
// architectures listed here load at both opsets. A regression (or an improvement: then extend
// the list) fails this test.
TEST(OpenCvRuntime, CoverageOfTheTorchExports) {
  auto rt = MakeRuntime();
  auto rows = MeasureCoverage(*rt, kModels, 3);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  std::printf("%s", CoverageTable(*rows).c_str());
  std::set<std::string> running;
  for (const auto& r : *rows) {
    if (!r.runs) continue;
    EXPECT_LE(r.max_abs_diff, 1e-4) << r.arch << " opset " << r.opset;
    running.insert(r.arch + "-op" + std::to_string(r.opset));
  }
  for (const char* expected : kExpectedRunning) {
    EXPECT_EQ(running.count(expected), 1u) << expected << " no longer runs";
  }
}

}  // namespace
}  // namespace oxide::inference
