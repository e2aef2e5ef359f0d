// `oxide info`: format, producer, opsets, graph inputs/outputs and parameters, as text and JSON.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/file_util.hpp"
#include "cli/cli_main.hpp"
#include "cli/commands.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/safetensors_builder.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::cli {
namespace {

using tensor::DType;

class InfoCli : public ::testing::Test {
 protected:
  // Runs RunInfo with its output in a temp file; returns the output (or the error).
  Result<std::string> Info(const std::string& path, bool json) {
    const std::string out_path = dir.File("out.txt");
    std::FILE* f = std::fopen(out_path.c_str(), "wb");
    if (f == nullptr) return Status(ErrorCode::kIo, "cannot open " + out_path);
    Status s = RunInfo(InfoArgs{path, json, f});
    std::fclose(f);
    OXIDE_RETURN_IF_ERROR(s);
    return ReadFileToString(out_path);
  }
  std::string Write(const std::string& name, const std::string& bytes) {
    EXPECT_OK(AtomicWriteFile(dir.File(name), bytes));
    return dir.File(name);
  }
  std::string OnnxWithSymbolicBatch() {
    testing::OnnxBuilder b;
    b.AddInitializer("w", DType::kF32, {4, 2}, testing::F32Bytes({1, 2, 3, 4, 5, 6, 7, 8}));
    b.AddInitializer("k", DType::kI64, {3}, testing::I64Bytes({1, 2, 3}));
    b.AddNode(testing::NodeProto("mm", "MatMul", {"x", "w"}, {"h"}, {}));
    b.AddNode(testing::NodeProto("r", "Relu", {"h"}, {"y"}, {}));
    b.SetInputs({testing::ValueInfoProto("x", DType::kF32, {"batch", "4"})});
    b.SetOutputs({testing::ValueInfoProto("y", DType::kF32, {"batch", "?"})});
    return Write("m.onnx", b.Build());
  }
  testing::TempDir dir;
};

TEST_F(InfoCli, OnnxTextShowsGraphSignatureAndParametersPerDtype) {
  auto out = Info(OnnxWithSymbolicBatch(), false);
  ASSERT_OK(out.status());
  for (const char* want :
       {"format:      onnx (", "producer:    oxide-test\n", "ir_version:  8\n",
        "opsets:      ai.onnx 17\n", "inputs:\n  x  F32  [batch,4]\n",
        "outputs:\n  y  F32  [batch,?]\n", "parameters:  11 in 2 tensors, 56 bytes\n",
        "  F32  8 parameters, 32 bytes\n", "  I64  3 parameters, 24 bytes\n",
        "ops:         MatMul x1 Relu x1\n"}) {
    EXPECT_NE(out->find(want), std::string::npos) << want << "\n" << *out;
  }
}

TEST_F(InfoCli, OnnxJsonKeepsSymbolicAndUnknownDims) {
  auto out = Info(OnnxWithSymbolicBatch(), true);
  ASSERT_OK(out.status());
  auto j = nlohmann::json::parse(*out);
  EXPECT_EQ(j["format"], "onnx");
  EXPECT_EQ(j["producer"]["name"], "oxide-test");
  EXPECT_EQ(j["opsets"][0]["domain"], "ai.onnx");
  EXPECT_EQ(j["opsets"][0]["version"], 17);
  EXPECT_EQ(j["inputs"][0]["shape"], nlohmann::json::parse(R"(["batch",4])"));
  EXPECT_EQ(j["outputs"][0]["shape"], nlohmann::json::parse(R"(["batch",null])"));
  EXPECT_EQ(j["parameters"]["count"], 11);
  EXPECT_EQ(j["parameters"]["by_dtype"][1]["dtype"], "I64");
  EXPECT_EQ(j["ops"][0]["op"], "MatMul");
}

TEST_F(InfoCli, SafeTensorsHasNoGraphButParameters) {
  testing::SafetensorsBuilder b;
  b.AddTensor("a", DType::kF16, {2, 3}, std::string(12, '\0'));
  auto out = Info(Write("m.safetensors", b.Build()), true);
  ASSERT_OK(out.status());
  auto j = nlohmann::json::parse(*out);
  EXPECT_EQ(j["format"], "safetensors");
  EXPECT_TRUE(j["inputs"].is_null());
  EXPECT_EQ(j["parameters"]["count"], 6);
  EXPECT_EQ(j["parameters"]["by_dtype"][0]["bytes"], 12);
  auto text = Info(dir.File("m.safetensors"), false);
  ASSERT_OK(text.status());
  EXPECT_NE(text->find("graph:       none"), std::string::npos) << *text;
}

TEST_F(InfoCli, ExampleModelIsTheMnistMlp) {
  auto out = Info(std::string(OXIDE_SOURCE_DIR) + "/examples/models/mlp-mnist-v1.onnx", true);
  ASSERT_OK(out.status());
  auto j = nlohmann::json::parse(*out);
  EXPECT_EQ(j["producer"]["name"], "pytorch");
  EXPECT_EQ(j["inputs"].size(), 1u);
  EXPECT_EQ(j["inputs"][0]["shape"][1], 784);
  // 784*512+512 + 512*256+256 + 256*10+10 (examples/models/PROVENANCE.md)
  EXPECT_EQ(j["parameters"]["count"], 535818);
}

TEST_F(InfoCli, CorruptAndUnknownFilesFail) {
  std::string model = *ReadFileToString(OnnxWithSymbolicBatch());
  EXPECT_STATUS(Info(Write("cut.onnx", model.substr(0, model.size() / 2)), false).status(),
                ErrorCode::kCorrupt);
  EXPECT_STATUS(Info(Write("text.bin", "hello, world"), false).status(),
                ErrorCode::kInvalidArgument);
  std::vector<std::string> args = {"oxide", "info", dir.File("nope.onnx")};
  EXPECT_EQ(Main(args), 3);
}

}  // namespace
}  // namespace oxide::cli
