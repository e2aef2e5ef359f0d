// `oxide run` / `oxide bench` through cli::Main: outputs of the committed torch fixtures, and one
// readable line (and the documented exit code) for each refusal.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "base/file_util.hpp"
#include "cli/cli_main.hpp"
#include "inference/coverage.hpp"
#include "inference/golden.hpp"
#include "inference/runtime.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::cli {
namespace {

const std::string kModels = std::string(OXIDE_SOURCE_DIR) + "/tests/models/";

class RunCli : public ::testing::Test {
 protected:
  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), "oxide");
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    int rc = Main(args);
    out_ = ::testing::internal::GetCapturedStdout();
    err_ = ::testing::internal::GetCapturedStderr();
    return rc;
  }
  bool OneLine() const { return std::count(err_.begin(), err_.end(), '\n') == 1; }
  inference::Golden Fixture(const std::string& name) {
    auto bytes = ReadFileToString(kModels + name + ".golden.safetensors");
    EXPECT_TRUE(bytes.ok());
    auto g = inference::ParseGolden(*bytes);
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    return *g;
  }
  void SetUp() override {
    if (inference::MakeRuntime() == nullptr) GTEST_SKIP() << "built without inference";
  }

  testing::TempDir dir_;
  std::string out_, err_;
};

// Acceptance 2: `oxide run` on torch's inputs gives torch's outputs within 1e-4.
TEST_F(RunCli, OutputsMatchTorchForTheFixtures) {
  for (const char* name : {"mlp-op17", "cnn-op13", "mobilenet-op13", "gru-op17", "lstm-op13"}) {
    inference::Golden g = Fixture(name);
    ASSERT_TRUE(inference::WriteTensorSetFile(dir_.File("in.safetensors"), g.inputs).ok());
    ASSERT_EQ(Run({"run", kModels + name + ".onnx", "--input", dir_.File("in.safetensors"),
                   "--output", dir_.File("out.safetensors")}),
              0)
        << err_;
    auto outputs = inference::ReadTensorSetFile(dir_.File("out.safetensors"));
    ASSERT_TRUE(outputs.ok());
    EXPECT_LE(inference::MaxAbsDiff(g.outputs, *outputs), 1e-4) << name;
  }
}

TEST_F(RunCli, WritesAGoldenFileTheGoldenParserReads) {
  ASSERT_EQ(Run({"run", kModels + "mlp-op13.onnx", "--random", "7", "--golden",
                 dir_.File("g.safetensors"), "--latency-budget-ms", "25", "--tolerance", "0.001"}),
            0)
      << err_;
  auto bytes = ReadFileToString(dir_.File("g.safetensors"));
  ASSERT_TRUE(bytes.ok());
  auto g = inference::ParseGolden(*bytes);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ASSERT_NE(g->inputs.Find("x"), nullptr);
  ASSERT_NE(g->outputs.Find("y"), nullptr);
  EXPECT_EQ(g->tolerance, 0.001);
  ASSERT_TRUE(g->latency_budget_ms.has_value());
  EXPECT_EQ(*g->latency_budget_ms, 25);
}

TEST_F(RunCli, BadInputFileIsOneLineNamingIt) {
  ASSERT_TRUE(AtomicWriteFile(dir_.File("bad.safetensors"), "not safetensors").ok());
  EXPECT_EQ(Run({"run", kModels + "mlp-op13.onnx", "--input", dir_.File("bad.safetensors")}), 5);
  EXPECT_TRUE(OneLine()) << err_;
  EXPECT_NE(err_.find("input file " + dir_.File("bad.safetensors")), std::string::npos) << err_;
}

TEST_F(RunCli, WrongInputNameOrShapeIsOneLineNamingIt) {
  inference::TensorSet wrong;
  inference::NamedTensor t;
  t.name = "image";
  t.dims = {1, 16};
  t.data.assign(64, '\0');
  wrong.tensors.push_back(t);
  ASSERT_TRUE(inference::WriteTensorSetFile(dir_.File("name.safetensors"), wrong).ok());
  EXPECT_EQ(Run({"run", kModels + "mlp-op13.onnx", "--input", dir_.File("name.safetensors")}), 2);
  EXPECT_TRUE(OneLine()) << err_;
  EXPECT_NE(err_.find("input 'image' is not an input of the model"), std::string::npos) << err_;

  wrong.tensors[0].name = "x";
  wrong.tensors[0].dims = {4, 4};
  ASSERT_TRUE(inference::WriteTensorSetFile(dir_.File("shape.safetensors"), wrong).ok());
  EXPECT_EQ(Run({"run", kModels + "mlp-op13.onnx", "--input", dir_.File("shape.safetensors")}), 2);
  EXPECT_TRUE(OneLine()) << err_;
  EXPECT_NE(err_.find("input 'x' has shape [4,4], the model wants [1,16]"), std::string::npos)
      << err_;
}

TEST_F(RunCli, ModelThatIsNotOnnxIsOneLine) {
  EXPECT_EQ(Run({"run", kModels + "mlp-op13.golden.safetensors"}), 5);
  EXPECT_TRUE(OneLine()) << err_;
}

TEST_F(RunCli, BenchPrintsLatencies) {
  ASSERT_EQ(Run({"bench", kModels + "mlp-op13.onnx", "--warmup", "2", "--iterations", "5"}), 0)
      << err_;
  EXPECT_NE(out_.find("5 runs after 2 warm-up"), std::string::npos) << out_;
  EXPECT_NE(out_.find("inputs: x F32 [1,16]\n"), std::string::npos) << out_;
  EXPECT_NE(out_.find("latency p50 "), std::string::npos) << out_;
  EXPECT_NE(out_.find(" p99 "), std::string::npos) << out_;
  // Nearest rank over 5 runs: p95 and p99 are the slowest run, and the output says so.
  EXPECT_NE(out_.find("p95 = max (n<20), p99 = max (n<100)"), std::string::npos) << out_;
  ASSERT_EQ(
      Run({"bench", kModels + "mlp-op13.onnx", "--warmup", "1", "--iterations", "3", "--json"}), 0)
      << err_;
  EXPECT_NE(out_.find("\"p95_ms\":"), std::string::npos) << out_;
  EXPECT_NE(out_.find("\"warmup\":1,"), std::string::npos) << out_;
  EXPECT_NE(out_.find("\"runs\":3,"), std::string::npos) << out_;
  EXPECT_NE(out_.find("\"p95_is_max\":true"), std::string::npos) << out_;
  EXPECT_NE(out_.find("\"inputs\":[{\"name\":\"x\",\"dtype\":\"F32\",\"shape\":[1,16]}]"),
            std::string::npos)
      << out_;
  EXPECT_EQ(Run({"bench", kModels + "mlp-op13.onnx", "--iterations", "0"}), 2);
  EXPECT_TRUE(OneLine()) << err_;
}

// Symbolic dimensions are run as 1, and bench shows it.
TEST_F(RunCli, BenchShowsTheShapesItRan) {
  testing::OnnxBuilder b;
  b.SetInputs({testing::ValueInfoProto("x", tensor::DType::kF32, {"batch", "4"})});
  b.SetOutputs({testing::ValueInfoProto("y", tensor::DType::kF32, {"batch", "4"})});
  b.AddNode(testing::NodeProto("relu", "Relu", {"x"}, {"y"}, {}));
  ASSERT_TRUE(AtomicWriteFile(dir_.File("sym.onnx"), b.Build()).ok());
  ASSERT_EQ(Run({"bench", dir_.File("sym.onnx"), "--warmup", "0", "--iterations", "2"}), 0) << err_;
  EXPECT_NE(out_.find("inputs: x F32 [1,4] (batch=1)\n"), std::string::npos) << out_;
}

// `oxide run` times one inference, which includes OpenCV's one-time setup: it says so.
TEST_F(RunCli, RunLabelsItsTimeAsTheFirstRun) {
  ASSERT_EQ(Run({"run", kModels + "mlp-op13.onnx", "--zeros"}), 0) << err_;
  EXPECT_NE(out_.find(" ms (first run, incl. one-time setup; opencv-dnn 4.6.0)"), std::string::npos)
      << out_;
}

// Built with OXIDE_WITH_INFERENCE=OFF (the sanitizer build): one line, non-zero exit.
TEST(RunCliWithoutInference, RunAndBenchSayTheComponentIsMissing) {
  if (inference::MakeRuntime() != nullptr) GTEST_SKIP() << "built with inference";
  for (const char* cmd : {"run", "bench"}) {
    ::testing::internal::CaptureStderr();
    int rc = Main({"oxide", cmd, kModels + "mlp-op13.onnx"});
    std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(rc, 6) << cmd;
    EXPECT_EQ(err,
              "oxide: unsupported: oxide was built without inference "
              "(OXIDE_WITH_INFERENCE=OFF)\n");
  }
}

}  // namespace
}  // namespace oxide::cli
