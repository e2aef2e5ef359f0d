#include "inference/graph_normaliser.hpp"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

namespace oxide::inference {
namespace {

tensor::DType FromOnnx(int32_t t) {
  using tensor::DType;
  switch (t) {
    case onnx::TensorProto::FLOAT:
      return DType::kF32;
    case onnx::TensorProto::UINT8:
      return DType::kU8;
    case onnx::TensorProto::INT8:
      return DType::kI8;
    case onnx::TensorProto::UINT16:
      return DType::kU16;
    case onnx::TensorProto::INT16:
      return DType::kI16;
    case onnx::TensorProto::INT32:
      return DType::kI32;
    case onnx::TensorProto::INT64:
      return DType::kI64;
    case onnx::TensorProto::STRING:
      return DType::kString;
    case onnx::TensorProto::BOOL:
      return DType::kBool;
    case onnx::TensorProto::FLOAT16:
      return DType::kF16;
    case onnx::TensorProto::DOUBLE:
      return DType::kF64;
    case onnx::TensorProto::UINT32:
      return DType::kU32;
    case onnx::TensorProto::UINT64:
      return DType::kU64;
    case onnx::TensorProto::COMPLEX64:
      return DType::kComplex64;
    case onnx::TensorProto::COMPLEX128:
      return DType::kComplex128;
    case onnx::TensorProto::BFLOAT16:
      return DType::kBF16;
    default:
      return DType::kUnknown;
  }
}

tensor::ValueInfo ToValueInfo(const onnx::ValueInfoProto& v) {
  tensor::ValueInfo info;
  info.name = v.name();
  if (!v.type().has_tensor_type()) return info;
  const auto& tt = v.type().tensor_type();
  info.dtype = FromOnnx(tt.elem_type());
  info.has_shape = tt.has_shape();
  for (const auto& d : tt.shape().dim()) {
    tensor::Dim dim;
    if (d.has_dim_value()) {
      dim.size = d.dim_value();
    } else if (d.has_dim_param()) {
      dim.symbol = d.dim_param();
    }
    info.dims.push_back(std::move(dim));
  }
  return info;
}

std::string NodeLabel(const onnx::NodeProto& n) {
  return "operator '" + n.op_type() + "' (node '" + n.name() + "')";
}

// Constant values read out of an initializer (the only numeric forms the exporters write).
struct Consts {
  std::unordered_map<std::string, const onnx::TensorProto*> by_name;
  const onnx::TensorProto* Find(const std::string& name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  }
};

bool ReadInts(const onnx::TensorProto& t, std::vector<int64_t>* out) {
  out->clear();
  if (t.data_type() == onnx::TensorProto::INT64) {
    if (t.has_raw_data()) {
      const std::string& raw = t.raw_data();
      if (raw.size() % 8 != 0) return false;
      out->resize(raw.size() / 8);
      std::memcpy(out->data(), raw.data(), raw.size());
    } else {
      out->assign(t.int64_data().begin(), t.int64_data().end());
    }
    return true;
  }
  if (t.data_type() == onnx::TensorProto::INT32) {
    if (t.has_raw_data()) {
      const std::string& raw = t.raw_data();
      if (raw.size() % 4 != 0) return false;
      for (size_t i = 0; i < raw.size(); i += 4) {
        int32_t v;
        std::memcpy(&v, raw.data() + i, 4);
        out->push_back(v);
      }
    } else {
      out->assign(t.int32_data().begin(), t.int32_data().end());
    }
    return true;
  }
  return false;
}

// One float scalar (Clip bounds). Doubles are narrowed like the importer would for attributes.
bool ReadScalarFloat(const onnx::TensorProto& t, float* out) {
  if (t.data_type() == onnx::TensorProto::FLOAT) {
    if (t.has_raw_data()) {
      if (t.raw_data().size() != 4) return false;
      std::memcpy(out, t.raw_data().data(), 4);
      return true;
    }
    if (t.float_data_size() != 1) return false;
    *out = t.float_data(0);
    return true;
  }
  if (t.data_type() == onnx::TensorProto::DOUBLE) {
    double d;
    if (t.has_raw_data()) {
      if (t.raw_data().size() != 8) return false;
      std::memcpy(&d, t.raw_data().data(), 8);
    } else {
      if (t.double_data_size() != 1) return false;
      d = t.double_data(0);
    }
    *out = static_cast<float>(d);
    return true;
  }
  return false;
}

bool ReadScalarBool(const onnx::TensorProto& t, bool* out) {
  if (t.data_type() != onnx::TensorProto::BOOL) return false;
  if (t.has_raw_data()) {
    if (t.raw_data().size() != 1) return false;
    *out = t.raw_data()[0] != 0;
    return true;
  }
  if (t.int32_data_size() != 1) return false;
  *out = t.int32_data(0) != 0;
  return true;
}

// Elements of a FLOAT initializer holding exactly one value (torch leaves scalar arithmetic such
// as `head_dim ** 0.5` in the graph as Pow(Constant, Constant)).
bool ReadOneFloat(const onnx::TensorProto& t, float* out) {
  int64_t n = 1;
  for (int64_t d : t.dims()) n *= d;
  return n == 1 && t.data_type() == onnx::TensorProto::FLOAT && ReadScalarFloat(t, out);
}

// Folds Pow/Mul/Div/Add/Sub/Sqrt of one-element float constants, computed in float like the
// runtime would; false for anything else.
bool FoldScalar(const std::string& op, const std::vector<float>& in, float* out) {
  if (op == "Sqrt" && in.size() == 1) {
    *out = std::sqrt(in[0]);
    return true;
  }
  if (in.size() != 2) return false;
  if (op == "Pow")
    *out = std::pow(in[0], in[1]);
  else if (op == "Mul")
    *out = in[0] * in[1];
  else if (op == "Div")
    *out = in[0] / in[1];
  else if (op == "Add")
    *out = in[0] + in[1];
  else if (op == "Sub")
    *out = in[0] - in[1];
  else
    return false;
  return true;
}

// A Constant node's value as an initializer named after its output; false for forms the
// exporters do not write (sparse tensors, strings).
bool ConstantToTensor(const onnx::NodeProto& n, onnx::TensorProto* t) {
  for (const auto& a : n.attribute()) {
    if (a.name() == "value" && a.has_t()) {
      *t = a.t();
    } else if (a.name() == "value_float") {
      t->set_data_type(onnx::TensorProto::FLOAT);
      t->add_float_data(a.f());
    } else if (a.name() == "value_floats") {
      t->set_data_type(onnx::TensorProto::FLOAT);
      t->add_dims(a.floats_size());
      for (float f : a.floats()) t->add_float_data(f);
    } else if (a.name() == "value_int") {
      t->set_data_type(onnx::TensorProto::INT64);
      t->add_int64_data(a.i());
    } else if (a.name() == "value_ints") {
      t->set_data_type(onnx::TensorProto::INT64);
      t->add_dims(a.ints_size());
      for (int64_t i : a.ints()) t->add_int64_data(i);
    } else {
      return false;
    }
    t->set_name(n.output(0));
    return true;
  }
  return false;
}

int64_t OpsetOf(const onnx::ModelProto& m) {
  for (const auto& o : m.opset_import()) {
    if (o.domain().empty() || o.domain() == "ai.onnx") return o.version();
  }
  return 0;
}

class Normaliser {
 public:
  Normaliser(onnx::ModelProto* model, std::map<std::string, int>* counts)
      : model_(model), counts_(counts) {}

  Status Run() {
    onnx::GraphProto* g = model_->mutable_graph();
    for (const auto& t : g->initializer()) consts_.by_name[t.name()] = &t;
    OXIDE_RETURN_IF_ERROR(Pass(g));
    return Status::Ok();
  }

 private:
  void AddInitializer(onnx::GraphProto* g, onnx::TensorProto t) {
    onnx::TensorProto* added = g->add_initializer();
    *added = std::move(t);
    // RepeatedPtrField keeps element addresses stable, so earlier pointers stay valid.
    consts_.by_name[added->name()] = added;
  }

  bool IsGraphOutput(const onnx::GraphProto& g, const std::string& name) const {
    for (const auto& o : g.output()) {
      if (o.name() == name) return true;
    }
    return false;
  }

  void SetIntsAttribute(onnx::NodeProto* n, const std::string& name,
                        const std::vector<int64_t>& v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }

  // Moves a constant input at `index` (axes, split) into an INTS attribute.
  Status InputToIntsAttribute(onnx::NodeProto* n, int index, const std::string& attr) {
    if (n->input_size() <= index) return Status::Ok();
    const std::string name = n->input(index);
    if (!name.empty()) {
      const onnx::TensorProto* t = consts_.Find(name);
      std::vector<int64_t> v;
      if (t == nullptr || !ReadInts(*t, &v)) {
        return Unsupported(NodeLabel(*n) + " with a '" + attr +
                           "' input computed at run time is not supported by opencv-dnn 4.6.0");
      }
      SetIntsAttribute(n, attr, v);
    }
    while (n->input_size() > index) n->mutable_input()->RemoveLast();
    ++(*counts_)[n->op_type() + " " + attr + " input to attribute"];
    return Status::Ok();
  }

  Status Clip(onnx::NodeProto* n) {
    if (n->input_size() <= 1) return Status::Ok();
    static const char* kNames[] = {"min", "max"};
    for (int i = 1; i < n->input_size() && i <= 2; ++i) {
      if (n->input(i).empty()) continue;
      const onnx::TensorProto* t = consts_.Find(n->input(i));
      float v;
      if (t == nullptr || !ReadScalarFloat(*t, &v)) {
        return Unsupported(NodeLabel(*n) + " with a '" + kNames[i - 1] +
                           "' bound computed at run time is not supported by opencv-dnn 4.6.0");
      }
      onnx::AttributeProto* a = n->add_attribute();
      a->set_name(kNames[i - 1]);
      a->set_type(onnx::AttributeProto::FLOAT);
      a->set_f(v);
    }
    while (n->input_size() > 1) n->mutable_input()->RemoveLast();
    ++(*counts_)["Clip min/max inputs to attributes"];
    return Status::Ok();
  }

  // Replaces an If on a constant condition by the nodes of the branch it takes.
  Status InlineIf(const onnx::NodeProto& n, onnx::GraphProto* g,
                  std::vector<onnx::NodeProto>* out) {
    const onnx::TensorProto* c = consts_.Find(n.input(0));
    bool cond = false;
    if (c == nullptr || !ReadScalarBool(*c, &cond)) {
      return Unsupported(NodeLabel(n) +
                         " with a condition computed at run time is not supported by "
                         "opencv-dnn 4.6.0 (no control flow)");
    }
    const onnx::GraphProto* branch = nullptr;
    for (const auto& a : n.attribute()) {
      if (a.name() == (cond ? "then_branch" : "else_branch")) branch = &a.g();
    }
    if (branch == nullptr || branch->output_size() != n.output_size()) {
      return Corrupt(NodeLabel(n) + " has no usable " + (cond ? "then" : "else") + " branch");
    }
    std::unordered_map<std::string, std::string> rename;
    for (int i = 0; i < branch->output_size(); ++i) rename[branch->output(i).name()] = n.output(i);
    for (const auto& t : branch->initializer()) AddInitializer(g, t);
    std::set<std::string> produced;
    for (const auto& bn : branch->node()) {
      onnx::NodeProto copy = bn;
      for (auto& o : *copy.mutable_output()) {
        auto it = rename.find(o);
        if (it != rename.end()) o = it->second;
        produced.insert(o);
      }
      for (auto& in : *copy.mutable_input()) {
        auto it = rename.find(in);
        if (it != rename.end()) in = it->second;
      }
      out->push_back(std::move(copy));
    }
    // A branch output that is an outer value passes through unchanged.
    for (int i = 0; i < branch->output_size(); ++i) {
      if (produced.count(n.output(i)) != 0) continue;
      const onnx::TensorProto* t = consts_.Find(branch->output(i).name());
      if (t != nullptr) {
        onnx::TensorProto copy = *t;
        copy.set_name(n.output(i));
        AddInitializer(g, std::move(copy));
      } else {
        onnx::NodeProto id;
        id.set_op_type("Identity");
        id.set_name(n.name() + "/inlined_" + std::to_string(i));
        id.add_input(branch->output(i).name());
        id.add_output(n.output(i));
        out->push_back(std::move(id));
      }
    }
    ++(*counts_)["If on a constant condition inlined"];
    return Status::Ok();
  }

  // A node whose inputs are all one-element float constants becomes an initializer.
  bool TryFoldScalar(onnx::GraphProto* g, const onnx::NodeProto& n) {
    if (n.output_size() != 1 || n.input_size() == 0 || IsGraphOutput(*g, n.output(0))) return false;
    std::vector<float> values;
    size_t rank = 0;
    for (const auto& in : n.input()) {
      const onnx::TensorProto* t = consts_.Find(in);
      float v;
      if (t == nullptr || !ReadOneFloat(*t, &v)) return false;
      values.push_back(v);
      rank = std::max<size_t>(rank, static_cast<size_t>(t->dims_size()));
    }
    float result;
    if (!FoldScalar(n.op_type(), values, &result)) return false;
    onnx::TensorProto t;
    t.set_name(n.output(0));
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (size_t i = 0; i < rank; ++i) t.add_dims(1);
    t.add_float_data(result);
    AddInitializer(g, std::move(t));
    ++(*counts_)["scalar " + n.op_type() + " of constants folded"];
    return true;
  }

  Status Pass(onnx::GraphProto* g) {
    const int64_t opset = OpsetOf(*model_);
    // Several rounds: an inlined If can bring Constant and Clip nodes of its own.
    for (int round = 0; round < 4; ++round) {
      bool changed = false;
      std::vector<onnx::NodeProto> kept;
      kept.reserve(g->node_size());
      for (int i = 0; i < g->node_size(); ++i) {
        onnx::NodeProto n = g->node(i);
        const std::string& op = n.op_type();
        if (!n.domain().empty() && n.domain() != "ai.onnx") {
          kept.push_back(std::move(n));
          continue;
        }
        if (TryFoldScalar(g, n)) {
          changed = true;
          continue;
        }
        if (op == "Constant" && n.output_size() == 1) {
          onnx::TensorProto t;
          if (ConstantToTensor(n, &t) && !IsGraphOutput(*g, n.output(0))) {
            AddInitializer(g, std::move(t));
            ++(*counts_)["Constant to initializer"];
            changed = true;
            continue;
          }
        } else if (op == "Identity" && n.input_size() == 1 && consts_.Find(n.input(0)) &&
                   !IsGraphOutput(*g, n.output(0))) {
          onnx::TensorProto t = *consts_.Find(n.input(0));
          t.set_name(n.output(0));
          AddInitializer(g, std::move(t));
          ++(*counts_)["Identity of an initializer removed"];
          changed = true;
          continue;
        } else if (op == "If") {
          std::vector<onnx::NodeProto> inlined;
          OXIDE_RETURN_IF_ERROR(InlineIf(n, g, &inlined));
          for (auto& x : inlined) kept.push_back(std::move(x));
          changed = true;
          continue;
        } else if ((op == "Add" || op == "Mul") && n.input_size() == 2 &&
                   consts_.Find(n.input(0)) != nullptr && consts_.Find(n.input(1)) == nullptr) {
          // torch writes Linear's bias first (Add(bias, MatMul)); the 4.6 importer only
          // broadcasts a constant second operand. IEEE addition and multiplication commute.
          n.mutable_input()->SwapElements(0, 1);
          ++(*counts_)[op + " with a constant first operand swapped"];
        } else if (op == "Loop" || op == "Scan") {
          return Unsupported(NodeLabel(n) +
                             " is not supported by opencv-dnn 4.6.0 (no control flow)");
        } else if (op == "Clip") {
          if (n.input_size() > 1) changed = true;
          OXIDE_RETURN_IF_ERROR(Clip(&n));
        } else if ((op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum") && opset >= 13) {
          if (n.input_size() > 1) changed = true;
          OXIDE_RETURN_IF_ERROR(InputToIntsAttribute(&n, 1, "axes"));
        } else if (op == "Split" && opset >= 13) {
          if (n.input_size() > 1) changed = true;
          OXIDE_RETURN_IF_ERROR(InputToIntsAttribute(&n, 1, "split"));
        } else if ((op == "ReduceMean" || op == "ReduceMax" || op == "ReduceMin" ||
                    op == "ReduceProd") &&
                   opset >= 18) {
          if (n.input_size() > 1) changed = true;
          OXIDE_RETURN_IF_ERROR(InputToIntsAttribute(&n, 1, "axes"));
        }
        kept.push_back(std::move(n));
      }
      g->clear_node();
      for (auto& n : kept) *g->add_node() = std::move(n);
      if (!changed) break;
    }
    return Status::Ok();
  }

  onnx::ModelProto* model_;
  std::map<std::string, int>* counts_;
  Consts consts_;
};

}  // namespace

Result<NormalisedModel> NormaliseForOpenCv(std::string_view onnx_bytes) {
  onnx::ModelProto model;
  if (onnx_bytes.size() > static_cast<size_t>(INT32_MAX) ||
      !model.ParseFromArray(onnx_bytes.data(), static_cast<int>(onnx_bytes.size())) ||
      !model.has_graph()) {
    return Corrupt("not an ONNX model (no ModelProto with a graph)");
  }
  NormalisedModel out;
  std::set<std::string> initializers;
  for (const auto& t : model.graph().initializer()) initializers.insert(t.name());
  for (const auto& in : model.graph().input()) {
    if (initializers.count(in.name()) == 0) out.signature.inputs.push_back(ToValueInfo(in));
  }
  for (const auto& o : model.graph().output()) out.signature.outputs.push_back(ToValueInfo(o));

  std::map<std::string, int> counts;
  Normaliser normaliser(&model, &counts);
  OXIDE_RETURN_IF_ERROR(normaliser.Run());
  for (const auto& [what, n] : counts) out.rewrites.push_back(what + ": " + std::to_string(n));
  if (!model.SerializeToString(&out.onnx)) return Internal("cannot serialise the rewritten model");
  return out;
}

}  // namespace oxide::inference
