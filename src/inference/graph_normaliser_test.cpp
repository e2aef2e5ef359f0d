#include "inference/graph_normaliser.hpp"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "inference/onnx_test_model.hpp"

namespace oxide::inference {
namespace {

using testonnx::Model;

onnx::ModelProto Parse(const std::string& bytes) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(bytes));
  return m;
}

TEST(GraphNormaliser, MovesClipBoundsIntoAttributes) {
  Model m;
  m.Input("x", {1, 4});
  m.Output("y", {1, 4});
  m.FloatInit("lo", 0.f);
  m.FloatInit("hi", 6.f);
  m.Node("Clip", {"x", "lo", "hi"}, {"y"});
  auto r = NormaliseForOpenCv(m.Bytes());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  onnx::ModelProto out = Parse(r->onnx);
  const auto& clip = out.graph().node(0);
  ASSERT_EQ(clip.input_size(), 1);
  ASSERT_EQ(clip.attribute_size(), 2);
  EXPECT_EQ(clip.attribute(0).name(), "min");
  EXPECT_EQ(clip.attribute(0).f(), 0.f);
  EXPECT_EQ(clip.attribute(1).name(), "max");
  EXPECT_EQ(clip.attribute(1).f(), 6.f);
}

TEST(GraphNormaliser, MovesSqueezeAxesAndConstantsIntoAttributesAndInitializers) {
  Model m;
  m.Input("x", {1, 4});
  m.Output("y", {4});
  auto* c = m.Node("Constant", {}, {"axes"});
  auto* a = c->add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::INT64);
  a->mutable_t()->add_dims(1);
  a->mutable_t()->add_int64_data(0);
  m.Node("Squeeze", {"x", "axes"}, {"y"});
  auto r = NormaliseForOpenCv(m.Bytes());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  onnx::ModelProto out = Parse(r->onnx);
  ASSERT_EQ(out.graph().node_size(), 1);
  const auto& sq = out.graph().node(0);
  EXPECT_EQ(sq.op_type(), "Squeeze");
  ASSERT_EQ(sq.input_size(), 1);
  ASSERT_EQ(sq.attribute_size(), 1);
  EXPECT_EQ(sq.attribute(0).name(), "axes");
  ASSERT_EQ(sq.attribute(0).ints_size(), 1);
  EXPECT_EQ(sq.attribute(0).ints(0), 0);
}

TEST(GraphNormaliser, InlinesAnIfOnAConstantCondition) {
  Model m;
  m.Input("x", {1, 4});
  m.Output("y", {1, 4});
  auto* t = m.g()->add_initializer();
  t->set_name("cond");
  t->set_data_type(onnx::TensorProto::BOOL);
  t->add_int32_data(0);
  auto* n = m.Node("If", {"cond"}, {"y"});
  for (const char* branch : {"then_branch", "else_branch"}) {
    auto* a = n->add_attribute();
    a->set_name(branch);
    a->set_type(onnx::AttributeProto::GRAPH);
    auto* g = a->mutable_g();
    auto* bn = g->add_node();
    bn->set_op_type(std::string(branch) == "then_branch" ? "Relu" : "Sigmoid");
    bn->add_input("x");
    bn->add_output("branch_out");
    g->add_output()->set_name("branch_out");
  }
  auto r = NormaliseForOpenCv(m.Bytes());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  onnx::ModelProto out = Parse(r->onnx);
  ASSERT_EQ(out.graph().node_size(), 1);
  EXPECT_EQ(out.graph().node(0).op_type(), "Sigmoid");  // cond is false: the else branch
  EXPECT_EQ(out.graph().node(0).output(0), "y");
}

TEST(GraphNormaliser, RefusesAnIfOnARunTimeConditionNamingIt) {
  Model m;
  m.Input("x", {1});
  m.Output("y", {1});
  m.Node("If", {"x"}, {"y"});
  auto r = NormaliseForOpenCv(m.Bytes());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(r.status().message().find("operator 'If' (node 'If_0')"), std::string::npos)
      << r.status().message();
}

TEST(GraphNormaliser, RefusesAClipBoundComputedAtRunTime) {
  Model m;
  m.Input("x", {1, 4});
  m.Input("lo", {1});
  m.Output("y", {1, 4});
  m.Node("Clip", {"x", "lo"}, {"y"});
  auto r = NormaliseForOpenCv(m.Bytes());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(r.status().message().find("'Clip'"), std::string::npos);
  EXPECT_NE(r.status().message().find("'min'"), std::string::npos);
}

TEST(GraphNormaliser, ReportsTheSignatureWithSymbolicDimsAndNoInitializers) {
  Model m;
  m.Input("x", {4}, "batch");
  m.Output("y", {4});
  m.IntsInit("w", {1});
  m.Value(m.g()->add_input(), "w", {1});  // old exporters list initializers as inputs too
  m.Node("Relu", {"x"}, {"y"});
  auto r = NormaliseForOpenCv(m.Bytes());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->signature.inputs.size(), 1u);
  const auto& x = r->signature.inputs[0];
  EXPECT_EQ(x.name, "x");
  EXPECT_EQ(x.dtype, tensor::DType::kF32);
  ASSERT_EQ(x.dims.size(), 2u);
  EXPECT_EQ(x.dims[0].size, -1);
  EXPECT_EQ(x.dims[0].symbol, "batch");
  EXPECT_EQ(x.dims[1].size, 4);
  ASSERT_EQ(r->signature.outputs.size(), 1u);
  EXPECT_EQ(r->signature.outputs[0].name, "y");
}

TEST(GraphNormaliser, PutsAConstantFirstOperandSecondAndFoldsScalarArithmetic) {
  Model m;
  m.Input("x", {1, 4});
  m.Output("y", {1, 4});
  m.FloatInit("eight", 8.f);
  m.FloatInit("half", 0.5f);
  m.Node("Pow", {"eight", "half"}, {"scale"});
  m.Node("Add", {"scale", "x"}, {"y"});
  auto r = NormaliseForOpenCv(m.Bytes());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  onnx::ModelProto out = Parse(r->onnx);
  ASSERT_EQ(out.graph().node_size(), 1);
  EXPECT_EQ(out.graph().node(0).input(0), "x");
  EXPECT_EQ(out.graph().node(0).input(1), "scale");
  bool folded = false;
  for (const auto& t : out.graph().initializer()) {
    if (t.name() == "scale") {
      folded = true;
      ASSERT_EQ(t.float_data_size(), 1);
      EXPECT_EQ(t.float_data(0), std::pow(8.f, 0.5f));
    }
  }
  EXPECT_TRUE(folded);
}

TEST(GraphNormaliser, FoldsOnlyTrueOneElementConstants) {
  // dims [-1, -1] multiply to 1 but describe no tensor; 7 x 0x6db6db6db6db6db7 overflows int64
  // (undefined) and wraps to exactly 1. Neither is a scalar to fold.
  for (std::vector<int64_t> dims :
       {std::vector<int64_t>{-1, -1}, std::vector<int64_t>{7, 0x6db6db6db6db6db7}}) {
    Model m;
    m.Input("x", {1, 4});
    m.Output("y", {1, 4});
    m.FloatInit("eight", 8.f);
    for (int64_t d : dims) m.g()->mutable_initializer(0)->add_dims(d);
    m.FloatInit("half", 0.5f);
    m.Node("Pow", {"eight", "half"}, {"scale"});
    m.Node("Add", {"scale", "x"}, {"y"});
    auto r = NormaliseForOpenCv(m.Bytes());
    if (!r.ok()) continue;  // refused elsewhere: not folded either
    onnx::ModelProto out = Parse(r->onnx);
    for (const auto& t : out.graph().initializer()) EXPECT_NE(t.name(), "scale") << dims[0];
  }
}

TEST(GraphNormaliser, LayerNormalizationBecomesMvnAndScaleOnTheLastAxis) {
  Model m(17);
  m.Input("x", {1, 6, 32});
  m.Output("y", {1, 6, 32});
  m.IntsInit("unused", {0});
  auto* w = m.g()->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(32);
  for (int i = 0; i < 32; ++i) w->add_float_data(1.f);
  auto* b = m.g()->add_initializer();
  *b = *w;
  b->set_name("b");
  auto* ln = m.Node("LayerNormalization", {"x", "w", "b"}, {"y"});
  auto* eps = ln->add_attribute();
  eps->set_name("epsilon");
  eps->set_type(onnx::AttributeProto::FLOAT);
  eps->set_f(1e-5f);
  auto r = NormaliseForOpenCv(m.Bytes());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  onnx::ModelProto out = Parse(r->onnx);
  ASSERT_EQ(out.graph().node_size(), 2);
  EXPECT_EQ(out.graph().node(0).op_type(), "MVN");
  EXPECT_EQ(out.graph().node(1).op_type(), "Scale");
  EXPECT_EQ(out.graph().node(1).output(0), "y");
  for (const auto& a : out.graph().node(1).attribute()) {
    if (a.name() == "axis") {
      EXPECT_EQ(a.i(), 2);
    }
  }
}

TEST(GraphNormaliser, LeavesALayerNormOfUnknownRankForTheRuntimeToRefuse) {
  Model m(17);
  m.g()->add_input()->set_name("x");  // no type, no shape: rank unknown
  m.Output("y", {1, 6, 32});
  m.FloatInit("w", 1.f);
  m.Node("LayerNormalization", {"x", "w"}, {"y"});
  auto r = NormaliseForOpenCv(m.Bytes());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Parse(r->onnx).graph().node(0).op_type(), "LayerNormalization");
}

// MatMul with a 1-D operand drops a dimension: [2,2,4] x [4] is [2,2], so Concat(axis=-2) of
// two of them is axis 0, not 1 (the rank of the 3-D operand).
TEST(GraphNormaliser, MatMulWithAOneDimensionalOperandLowersTheRank) {
  Model m;
  m.Input("x", {2, 2, 4});
  m.Output("y", {4, 2});
  m.FloatsInit("w", {4}, {1, 2, 3, 4});
  m.FloatsInit("w2", {4}, {5, 6, 7, 8});
  m.Node("MatMul", {"x", "w"}, {"m"});
  m.Node("MatMul", {"x", "w2"}, {"n"});
  Model::IntAttr(m.Node("Concat", {"m", "n"}, {"y"}), "axis", -2);
  auto r = NormaliseForOpenCv(m.Bytes());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  onnx::ModelProto out = Parse(r->onnx);
  ASSERT_EQ(out.graph().node_size(), 3);
  const auto& concat = out.graph().node(2);
  ASSERT_EQ(concat.attribute_size(), 1);
  EXPECT_EQ(concat.attribute(0).i(), 0);
}

// A 1-D x 1-D MatMul is a scalar; an operand of unknown rank leaves the axis alone.
TEST(GraphNormaliser, MatMulOfUnknownRankLeavesANegativeAxisAlone) {
  Model m;
  m.Input("x", {2, 4});
  m.g()->add_input()->set_name("u");  // no shape
  m.Output("y", {4, 2});
  m.Node("MatMul", {"x", "u"}, {"m"});
  Model::IntAttr(m.Node("Concat", {"m", "m"}, {"y"}), "axis", -2);
  auto r = NormaliseForOpenCv(m.Bytes());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Parse(r->onnx).graph().node(1).attribute(0).i(), -2);
}

// LayerNormalization(x, w, b) over x [1,6,32] with w and b given by the caller.
Model LayerNormModel(bool bias_is_input, int64_t scale_len) {
  Model m(17);
  m.Input("x", {1, 6, 32});
  if (bias_is_input) m.Input("b", {32});
  m.Output("y", {1, 6, 32});
  m.FloatsInit("w", {scale_len}, std::vector<float>(static_cast<size_t>(scale_len), 1.f));
  if (!bias_is_input) m.FloatsInit("b", {32}, std::vector<float>(32, 0.f));
  m.Node("LayerNormalization", {"x", "w", "b"}, {"y"});
  return m;
}

TEST(GraphNormaliser, RefusesALayerNormWhoseBiasIsComputedAtRunTime) {
  auto r = NormaliseForOpenCv(LayerNormModel(true, 32).Bytes());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(r.status().message(),
            "operator 'LayerNormalization' (node 'LayerNormalization_0') with a 'bias' computed "
            "at run time is not supported by opencv-dnn 4.6.0");
}

TEST(GraphNormaliser, RefusesALayerNormWhoseScaleIsNotOnePerElementOfTheLastAxis) {
  auto r = NormaliseForOpenCv(LayerNormModel(false, 1).Bytes());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(r.status().message(),
            "operator 'LayerNormalization' (node 'LayerNormalization_0') with a 'scale' of 1 "
            "value(s) over a last axis of 32 is not supported by opencv-dnn 4.6.0");
}

// The decomposed LayerNorm torch writes at opset 13, followed by Mul(scale) and Add(bias).
Model DecomposedLayerNorm(int64_t scale_len) {
  Model m;
  m.Input("x", {1, 3, 4});
  m.Output("y", {1, 3, 4});
  m.FloatInit("two", 2.f);
  m.FloatInit("eps", 1e-5f);
  m.FloatsInit("s", {scale_len}, std::vector<float>(static_cast<size_t>(scale_len), 2.f));
  m.FloatsInit("b", {4}, {1, 2, 3, 4});
  auto axes = [](onnx::NodeProto* n) {
    auto* a = n->add_attribute();
    a->set_name("axes");
    a->set_type(onnx::AttributeProto::INTS);
    a->add_ints(-1);
  };
  axes(m.Node("ReduceMean", {"x"}, {"mean"}));
  m.Node("Sub", {"x", "mean"}, {"d"});
  m.Node("Pow", {"d", "two"}, {"sq"});
  axes(m.Node("ReduceMean", {"sq"}, {"var"}));
  m.Node("Add", {"var", "eps"}, {"ve"});
  m.Node("Sqrt", {"ve"}, {"std"});
  m.Node("Div", {"d", "std"}, {"norm"});
  m.Node("Mul", {"norm", "s"}, {"scaled"});
  m.Node("Add", {"scaled", "b"}, {"y"});
  return m;
}

TEST(GraphNormaliser, FusesTheDecomposedAffineOnlyWithOneValuePerElementOfTheLastAxis) {
  auto count_scales = [](const std::string& bytes) {
    int scales = 0;
    const onnx::ModelProto m = Parse(bytes);
    for (const auto& n : m.graph().node()) scales += n.op_type() == "Scale";
    return scales;
  };
  auto full = NormaliseForOpenCv(DecomposedLayerNorm(4).Bytes());
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_EQ(count_scales(full->onnx), 1);
  // A [1] scale broadcasts in ONNX but not in OpenCV's Scale layer: left as Mul and Add.
  auto one = NormaliseForOpenCv(DecomposedLayerNorm(1).Bytes());
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(count_scales(one->onnx), 0);
}

// Nodes with fewer inputs or outputs than their operator needs are refused as corrupt instead of
// being indexed past the end (a protobuf check failure or a crash).
TEST(GraphNormaliser, RefusesNodesWithTooFewInputsOrOutputs) {
  struct Case {
    const char* op;
    std::vector<std::string> in, out;
    const char* want;
  };
  const Case cases[] = {
      {"If", {}, {"y"}, "operator 'If' (node 'If_0') has 0 input(s), it needs at least 1"},
      {"Identity", {"x"}, {}, "operator 'Identity' (node 'Identity_0') has no output"},
      {"Sqrt", {}, {"y"}, "operator 'Sqrt' (node 'Sqrt_0') has 0 input(s), it needs at least 1"},
      {"Mul", {"x"}, {"y"}, "operator 'Mul' (node 'Mul_0') has 1 input(s), it needs at least 2"},
  };
  for (const auto& c : cases) {
    Model m;
    m.Input("x", {1, 4});
    m.Output("y", {1, 4});
    m.FloatInit("c", 1.f);
    m.Node(c.op, c.in, c.out);
    auto r = NormaliseForOpenCv(m.Bytes());
    ASSERT_FALSE(r.ok()) << c.op;
    EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
    EXPECT_EQ(r.status().message(), c.want);
  }
  // The decomposed LayerNorm pattern reaches a Sqrt with no input through its Div.
  Model ln = DecomposedLayerNorm(4);
  for (auto& n : *ln.g()->mutable_node()) {
    if (n.op_type() == "Sqrt") n.clear_input();
  }
  auto r = NormaliseForOpenCv(ln.Bytes());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
}

// The passes look producers and consumers up in maps built once per pass: a 20k-node chain of
// Div (each one a candidate for the LayerNorm pattern) normalises in linear time.
TEST(GraphNormaliser, ALongChainNormalisesInLinearTime) {
  Model m;
  m.Input("x", {1, 4});
  m.Output("y", {1, 4});
  m.FloatsInit("c", {4}, {1, 2, 3, 4});
  std::string prev = "x";
  constexpr int kNodes = 20000;
  for (int i = 0; i < kNodes; ++i) {
    const std::string out = i + 1 == kNodes ? "y" : "v" + std::to_string(i);
    m.Node(i % 2 ? "Div" : "Sqrt",
           i % 2 ? std::vector<std::string>{prev, "c"} : std::vector<std::string>{prev}, {out});
    prev = out;
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto r = NormaliseForOpenCv(m.Bytes());
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Parse(r->onnx).graph().node_size(), kNodes);
  // Quadratic took ~N s here; linear is ~0.1 s. The bound is generous for a loaded machine.
  EXPECT_LT(s, 5.0) << s << " s";
  std::printf("normalised %d nodes in %.3f s\n", kNodes, s);
}

TEST(GraphNormaliser, RefusesBytesThatAreNotAModel) {
  auto r = NormaliseForOpenCv("definitely not protobuf \xff\xff\xff");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace oxide::inference
