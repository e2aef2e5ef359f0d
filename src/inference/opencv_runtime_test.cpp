// The OpenCV DNN runtime on the committed torch exports (tests/models) and on graphs built here.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cstdio>
#include <cstring>
#include <set>

#include "inference/coverage.hpp"
#include "inference/golden.hpp"
#include "inference/onnx_test_model.hpp"
#include "inference/runtime.hpp"
#include "testing/temp_dir.hpp"

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

// x [1,4] -> op -> y [1,4], written to a file for Runtime::Load.
std::string WriteOneNodeModel(const testing::TempDir& dir, const std::string& op,
                              const std::vector<std::string>& inputs) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  for (const char* name : {"x", "c"}) {
    auto* v = g->add_input();
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_value(1);
    tt->mutable_shape()->add_dim()->set_dim_value(4);
  }
  auto* y = g->add_output();
  y->set_name("y");
  y->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  y->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(1);
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name("node_7");
  for (const auto& in : inputs) n->add_input(in);
  n->add_output("y");
  std::string path = dir.File(op + ".onnx");
  std::FILE* f = std::fopen(path.c_str(), "wb");
  std::string bytes = m.SerializeAsString();
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  return path;
}

TEST(OpenCvRuntime, AnUnknownOperatorIsOneLineNamingIt) {
  testing::TempDir dir;
  auto s = MakeRuntime()->Load(WriteOneNodeModel(dir, "NoSuchOperator", {"x"}), {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(
      s.status().message().rfind(
          "operator 'NoSuchOperator' (node 'node_7') is not supported by opencv-dnn 4.6.0", 0),
      0u)
      << s.status().message();
  EXPECT_EQ(s.status().message().find('\n'), std::string::npos);
}

TEST(OpenCvRuntime, AnIfOnARunTimeConditionIsRefusedNamingIt) {
  testing::TempDir dir;
  auto s = MakeRuntime()->Load(WriteOneNodeModel(dir, "If", {"c"}), {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(s.status().message().find("operator 'If' (node 'node_7')"), std::string::npos);
}

// Relu(x [1,4]) with y declared as `declared`: what OpenCV computes must fit the declaration.
Result<TensorSet> RunReluDeclaring(std::vector<int64_t> declared) {
  testing::TempDir dir;
  testonnx::Model m;
  m.Input("x", {1, 4});
  m.Output("y", std::move(declared));
  m.Node("Relu", {"x"}, {"y"});
  const std::string path = dir.File("relu.onnx");
  if (!m.WriteTo(path)) return Internal("cannot write " + path);
  OXIDE_ASSIGN_OR_RETURN(auto session, MakeRuntime()->Load(path, {}));
  TensorSet in;
  in.tensors.push_back(Zeros("x", {1, 4}));
  return session->Run(in);
}

TEST(OpenCvRuntime, AnOutputThatDoesNotFitItsDeclaredShapeIsRefused) {
  auto fewer = RunReluDeclaring({1, 8});
  ASSERT_FALSE(fewer.ok());
  EXPECT_EQ(fewer.status().message(), "output 'y' has 4 values, the model declares [1,8]");
  auto other = RunReluDeclaring({2, 2});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().message(),
            "output 'y' has shape [1,4] from opencv-dnn 4.6.0, the model declares [2,2]");
  // Unit dimensions do not change the element order: the declared shape is reported.
  auto unit = RunReluDeclaring({4, 1});
  ASSERT_TRUE(unit.ok()) << unit.status().ToString();
  EXPECT_EQ(unit->tensors[0].dims, (std::vector<int64_t>{4, 1}));
}

TEST(OpenCvRuntime, ANodeWithoutOutputsIsCorruptNotACrash) {
  testing::TempDir dir;
  testonnx::Model m;
  m.Input("x", {1, 4});
  m.Output("y", {1, 4});
  m.Node("Identity", {"x"}, {});
  m.Node("Relu", {"x"}, {"y"});
  ASSERT_TRUE(m.WriteTo(dir.File("m.onnx")));
  auto s = MakeRuntime()->Load(dir.File("m.onnx"), {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(s.status().message(), "operator 'Identity' (node 'Identity_0') has no output");
}

// Two Ifs on constant conditions whose branches reuse the inner names "k" and "t":
// y = Relu(x * 2) [If_0 takes then] + Relu(x * -1) [If_1 takes else]. Loaded and run through
// OpenCV, so the inlined graph must be loadable (no BOOL condition left) and name-clean.
TEST(OpenCvRuntime, RunsIfsOnConstantConditionsInlined) {
  testing::TempDir dir;
  testonnx::Model m;
  m.Input("x", {1, 4});
  m.Output("y", {1, 4});
  for (int i = 0; i < 2; ++i) {
    const std::string cond = "cond" + std::to_string(i);
    auto* c = m.g()->add_initializer();
    c->set_name(cond);
    c->set_data_type(onnx::TensorProto::BOOL);
    c->add_int32_data(i == 0 ? 1 : 0);
    auto* n = m.Node("If", {cond}, {"y" + std::to_string(i)});
    for (const char* branch : {"then_branch", "else_branch"}) {
      auto* a = n->add_attribute();
      a->set_name(branch);
      a->set_type(onnx::AttributeProto::GRAPH);
      auto* g = a->mutable_g();
      auto* k = g->add_initializer();
      k->set_name("k");
      k->set_data_type(onnx::TensorProto::FLOAT);
      k->add_dims(4);
      const float v = std::string(branch) == "then_branch" ? 2.f : -1.f;
      for (int j = 0; j < 4; ++j) k->add_float_data(v);
      auto* mul = g->add_node();
      mul->set_op_type("Mul");
      mul->set_name("mul");
      mul->add_input("x");
      mul->add_input("k");
      mul->add_output("t");
      auto* relu = g->add_node();
      relu->set_op_type("Relu");
      relu->set_name("relu");
      relu->add_input("t");
      relu->add_output("out");
      g->add_output()->set_name("out");
    }
  }
  m.Node("Add", {"y0", "y1"}, {"y"});
  ASSERT_TRUE(m.WriteTo(dir.File("if.onnx")));
  auto s = MakeRuntime()->Load(dir.File("if.onnx"), {});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  TensorSet in;
  in.tensors.push_back(Zeros("x", {1, 4}));
  const float x[4] = {1, -2, 3, -4};
  std::memcpy(in.tensors[0].data.data(), x, sizeof x);
  auto r = (*s)->Run(in);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->tensors.size(), 1u);
  ASSERT_EQ(r->tensors[0].data.size(), 16u);
  float y[4];
  std::memcpy(y, r->tensors[0].data.data(), sizeof y);
  const float want[4] = {2, 2, 6, 4};
  for (int j = 0; j < 4; ++j) EXPECT_EQ(y[j], want[j]) << j;
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
