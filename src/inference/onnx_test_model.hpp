#pragma once
// Test-only: small ONNX graphs built in code (the normaliser and runtime tests share it).
#include <onnx/onnx_pb.h>

#include <cstdio>
#include <string>
#include <vector>

namespace oxide::inference::testonnx {

struct Model {
  onnx::ModelProto m;
  explicit Model(int opset = 13) {
    m.set_ir_version(8);
    auto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
  }
  onnx::GraphProto* g() { return m.mutable_graph(); }
  void Value(onnx::ValueInfoProto* v, const std::string& name, std::vector<int64_t> dims,
             std::string symbol = "") {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    auto* shape = tt->mutable_shape();
    if (!symbol.empty()) shape->add_dim()->set_dim_param(symbol);
    for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
  }
  void Input(const std::string& name, std::vector<int64_t> dims, std::string symbol = "") {
    Value(g()->add_input(), name, std::move(dims), std::move(symbol));
  }
  void Output(const std::string& name, std::vector<int64_t> dims) {
    Value(g()->add_output(), name, std::move(dims));
  }
  onnx::NodeProto* Node(const std::string& op, std::vector<std::string> in,
                        std::vector<std::string> out) {
    auto* n = g()->add_node();
    n->set_op_type(op);
    n->set_name(op + "_" + std::to_string(g()->node_size() - 1));
    for (auto& s : in) n->add_input(s);
    for (auto& s : out) n->add_output(s);
    return n;
  }
  void FloatInit(const std::string& name, float v) {
    auto* t = g()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_float_data(v);
  }
  void FloatsInit(const std::string& name, std::vector<int64_t> dims, std::vector<float> v) {
    auto* t = g()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float x : v) t->add_float_data(x);
  }
  void IntsInit(const std::string& name, std::vector<int64_t> v) {
    auto* t = g()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(v.size()));
    for (int64_t x : v) t->add_int64_data(x);
  }
  static void IntAttr(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  std::string Bytes() const { return m.SerializeAsString(); }
  bool WriteTo(const std::string& path) const {
    std::string bytes = Bytes();
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return false;
    bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    return std::fclose(f) == 0 && ok;
  }
};

}  // namespace oxide::inference::testonnx
