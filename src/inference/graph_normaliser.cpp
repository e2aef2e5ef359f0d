#include "inference/graph_normaliser.hpp"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
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
  // One element means every dim is 1 (a product could overflow, or meet -1 twice).
  for (int64_t d : t.dims()) {
    if (d != 1) return false;
  }
  return t.data_type() == onnx::TensorProto::FLOAT && ReadScalarFloat(t, out);
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

// Fewest inputs of the operators the passes below read by position (n.input(i) past the end is
// a protobuf check failure). Every standard operator has at least one output.
int MinInputs(const std::string& op) {
  static const std::unordered_map<std::string, int> kMin = {{"If", 1},
                                                            {"Identity", 1},
                                                            {"Sqrt", 1},
                                                            {"Relu", 1},
                                                            {"Clip", 1},
                                                            {"Concat", 1},
                                                            {"Split", 1},
                                                            {"Squeeze", 1},
                                                            {"Unsqueeze", 1},
                                                            {"Reshape", 2},
                                                            {"Add", 2},
                                                            {"Sub", 2},
                                                            {"Mul", 2},
                                                            {"Div", 2},
                                                            {"Pow", 2},
                                                            {"MatMul", 2},
                                                            {"LayerNormalization", 2}};
  auto it = kMin.find(op);
  if (it != kMin.end()) return it->second;
  return op.rfind("Reduce", 0) == 0 ? 1 : 0;
}

// Checked once per node (including nodes inlined from a branch) before any pass indexes them.
Status CheckArity(const onnx::NodeProto& n) {
  if (!n.domain().empty() && n.domain() != "ai.onnx") return Status::Ok();
  if (n.output_size() == 0) return Corrupt(NodeLabel(n) + " has no output");
  const int min = MinInputs(n.op_type());
  if (n.input_size() < min) {
    return Corrupt(NodeLabel(n) + " has " + std::to_string(n.input_size()) +
                   " input(s), it needs at least " + std::to_string(min));
  }
  return Status::Ok();
}

class Normaliser {
 public:
  Normaliser(onnx::ModelProto* model, std::map<std::string, int>* counts)
      : model_(model), counts_(counts) {}

  Status Run() {
    onnx::GraphProto* g = model_->mutable_graph();
    for (const auto& t : g->initializer()) consts_.by_name[t.name()] = &t;
    for (const auto& o : g->output()) graph_outputs_.insert(o.name());
    for (const auto& n : g->node()) OXIDE_RETURN_IF_ERROR(CheckArity(n));
    OXIDE_RETURN_IF_ERROR(Pass(g));
    OXIDE_RETURN_IF_ERROR(FuseLayerNorm(g));
    PositiveAxes(g);
    OXIDE_RETURN_IF_ERROR(Pass(g));  // puts the LayerNorm scale and bias second
    consts_.by_name.clear();         // the pointers die with the dropped initializers
    DropUnreferencedInitializers(g);
    return Status::Ok();
  }

 private:
  void AddInitializer(onnx::GraphProto* g, onnx::TensorProto t) {
    onnx::TensorProto* added = g->add_initializer();
    *added = std::move(t);
    // RepeatedPtrField keeps element addresses stable, so earlier pointers stay valid.
    consts_.by_name[added->name()] = added;
  }

  // The graph's outputs never change during normalisation: looked up in a set built once.
  bool IsGraphOutput(const onnx::GraphProto&, const std::string& name) const {
    return graph_outputs_.count(name) != 0;
  }

  // Who produces and who reads each value, built once per rewrite so that matching a pattern
  // at every node stays linear in the graph size.
  struct Uses {
    std::unordered_map<std::string, const onnx::NodeProto*> producer;
    struct Readers {
      const onnx::NodeProto* first = nullptr;
      bool several_nodes = false;
      int reads = 0;  // input slots reading the value, over all nodes
    };
    std::unordered_map<std::string, Readers> readers;
    explicit Uses(const onnx::GraphProto& g) {
      for (const auto& n : g.node()) {
        for (const auto& o : n.output()) producer.emplace(o, &n);
        for (const auto& in : n.input()) {
          Readers& r = readers[in];
          if (r.first != nullptr && r.first != &n) r.several_nodes = true;
          if (r.first == nullptr) r.first = &n;
          ++r.reads;
        }
      }
    }
    const onnx::NodeProto* Producer(const std::string& value) const {
      auto it = producer.find(value);
      return it == producer.end() ? nullptr : it->second;
    }
    int Reads(const std::string& value) const {
      auto it = readers.find(value);
      return it == readers.end() ? 0 : it->second.reads;
    }
  };

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

  // Renames the inputs of `n` and of the nodes of its subgraphs (a nested If reads the
  // branch's values by name).
  static void RenameInputs(onnx::NodeProto* n,
                           const std::unordered_map<std::string, std::string>& rename) {
    for (auto& in : *n->mutable_input()) {
      auto it = rename.find(in);
      if (it != rename.end()) in = it->second;
    }
    for (auto& a : *n->mutable_attribute()) {
      if (a.has_g()) {
        for (auto& sub : *a.mutable_g()->mutable_node()) RenameInputs(&sub, rename);
      }
      for (auto& g : *a.mutable_graphs()) {
        for (auto& sub : *g.mutable_node()) RenameInputs(&sub, rename);
      }
    }
  }

  // Initializers nothing reads any more (an inlined If's BOOL condition, constants folded
  // away) are dropped: OpenCV 4.6 converts every initializer and refuses BOOL ones.
  static void DropUnreferencedInitializers(onnx::GraphProto* g) {
    std::set<std::string> used;
    std::function<void(const onnx::GraphProto&)> collect = [&](const onnx::GraphProto& graph) {
      for (const auto& n : graph.node()) {
        used.insert(n.input().begin(), n.input().end());
        for (const auto& a : n.attribute()) {
          if (a.has_g()) collect(a.g());
          for (const auto& sub : a.graphs()) collect(sub);
        }
      }
      for (const auto& o : graph.output()) used.insert(o.name());
    };
    collect(*g);
    std::set<std::string> dropped;
    auto* inits = g->mutable_initializer();
    int kept = 0;
    for (int i = 0; i < inits->size(); ++i) {
      if (used.count(inits->Get(i).name()) == 0) {
        dropped.insert(inits->Get(i).name());
        continue;
      }
      if (kept != i) inits->SwapElements(kept, i);
      ++kept;
    }
    while (inits->size() > kept) inits->RemoveLast();
    // Old exporters also list initializers as graph inputs; such an entry would now be an
    // input the caller has to feed.
    auto* inputs = g->mutable_input();
    kept = 0;
    for (int i = 0; i < inputs->size(); ++i) {
      if (dropped.count(inputs->Get(i).name()) != 0) continue;
      if (kept != i) inputs->SwapElements(kept, i);
      ++kept;
    }
    while (inputs->size() > kept) inputs->RemoveLast();
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
    for (const auto& bn : branch->node()) OXIDE_RETURN_IF_ERROR(CheckArity(bn));
    // Names defined inside the branch (its initializers and node outputs) get the If node's
    // name as a prefix: sibling branches and the outer graph may reuse them. Names the branch
    // reads from the outer graph stay as they are. Branch outputs produced by a node take the
    // If's output names.
    const std::string prefix = (n.name().empty() ? n.output(0) : n.name()) + "/";
    std::unordered_map<std::string, std::string> rename;
    for (const auto& t : branch->initializer()) rename[t.name()] = prefix + t.name();
    for (const auto& bn : branch->node()) {
      for (const auto& o : bn.output()) {
        if (!o.empty()) rename[o] = prefix + o;
      }
    }
    std::set<std::string> produced_by_node;
    for (const auto& bn : branch->node())
      produced_by_node.insert(bn.output().begin(), bn.output().end());
    for (int i = 0; i < branch->output_size(); ++i) {
      if (produced_by_node.count(branch->output(i).name()) != 0) {
        rename[branch->output(i).name()] = n.output(i);
      }
    }
    for (const auto& t : branch->initializer()) {
      onnx::TensorProto copy = t;
      copy.set_name(rename[t.name()]);
      AddInitializer(g, std::move(copy));
    }
    for (const auto& bn : branch->node()) {
      onnx::NodeProto copy = bn;
      copy.set_name(prefix + bn.name());
      RenameInputs(&copy, rename);
      for (auto& o : *copy.mutable_output()) {
        if (!o.empty()) o = rename[o];
      }
      out->push_back(std::move(copy));
    }
    // A branch output that is a branch initializer or an outer value passes through.
    for (int i = 0; i < branch->output_size(); ++i) {
      const std::string& name = branch->output(i).name();
      if (produced_by_node.count(name) != 0) continue;
      auto local = rename.find(name);
      const onnx::TensorProto* t = consts_.Find(local != rename.end() ? local->second : name);
      if (t != nullptr) {
        onnx::TensorProto copy = *t;
        copy.set_name(n.output(i));
        AddInitializer(g, std::move(copy));
      } else {
        onnx::NodeProto id;
        id.set_op_type("Identity");
        id.set_name(prefix + "inlined_" + std::to_string(i));
        id.add_input(name);
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

  // Ranks of the values, propagated from the graph inputs and initializers through the ops
  // whose output rank follows from their inputs and attributes; absent when unknown.
  std::unordered_map<std::string, int> Ranks(const onnx::GraphProto& g) const {
    std::unordered_map<std::string, int> rank;
    for (const auto& in : g.input()) {
      const auto& tt = in.type().tensor_type();
      if (tt.has_shape()) rank[in.name()] = tt.shape().dim_size();
    }
    for (const auto& t : g.initializer()) rank[t.name()] = t.dims_size();
    auto rank_of = [&](const std::string& name) {
      auto it = rank.find(name);
      return it == rank.end() ? -1 : it->second;
    };
    static const std::set<std::string> kSameAsFirst = {"Relu",
                                                       "Sigmoid",
                                                       "Tanh",
                                                       "Erf",
                                                       "Sqrt",
                                                       "Exp",
                                                       "Log",
                                                       "Neg",
                                                       "Abs",
                                                       "Clip",
                                                       "Split",
                                                       "Softmax",
                                                       "Transpose",
                                                       "Slice",
                                                       "Conv",
                                                       "MaxPool",
                                                       "AveragePool",
                                                       "BatchNormalization",
                                                       "GlobalAveragePool",
                                                       "Concat",
                                                       "Identity",
                                                       "LeakyRelu",
                                                       "HardSigmoid",
                                                       "LayerNormalization",
                                                       "Cast",
                                                       "Dropout"};
    static const std::set<std::string> kBroadcast = {"Add", "Sub", "Mul",   "Div",  "Pow",
                                                     "Max", "Min", "Where", "Equal"};
    for (const auto& n : g.node()) {
      int r = -1;
      const std::string& op = n.op_type();
      if (kSameAsFirst.count(op) != 0 && n.input_size() > 0) {
        r = rank_of(n.input(0));
      } else if (kBroadcast.count(op) != 0) {
        for (const auto& in : n.input()) {
          int ri = rank_of(in);
          if (ri < 0) {
            r = -1;
            break;
          }
          r = std::max(r, ri);
        }
      } else if (op == "MatMul" && n.input_size() == 2) {
        // numpy matmul: a 1-D operand loses its dimension (1-D x 1-D is a scalar), so the
        // rank is not the broadcast maximum; rank 0 operands are invalid and stay unknown.
        const int r0 = rank_of(n.input(0));
        const int r1 = rank_of(n.input(1));
        if (r0 >= 1 && r1 >= 1) {
          r = (r0 == 1 && r1 == 1) ? 0 : std::max(r0, r1) - (r0 == 1) - (r1 == 1);
        }
      } else if (op == "Gemm" || op == "Flatten") {
        r = 2;
      } else if (op == "Reshape" && n.input_size() == 2) {
        const onnx::TensorProto* shape = consts_.Find(n.input(1));
        if (shape != nullptr && shape->dims_size() == 1) r = static_cast<int>(shape->dims(0));
      } else if (op.rfind("Reduce", 0) == 0 && n.input_size() > 0) {
        int in = rank_of(n.input(0));
        int64_t keep = 1;
        int axes = -1;
        for (const auto& a : n.attribute()) {
          if (a.name() == "keepdims") keep = a.i();
          if (a.name() == "axes") axes = a.ints_size();
        }
        r = in < 0 ? -1 : keep ? in : (axes < 0 ? 0 : in - axes);
      }
      if (r >= 0) {
        for (const auto& o : n.output()) rank[o] = r;
      }
    }
    return rank;
  }

  // Negative axes made positive where the rank is known: the 4.6 importer mishandles
  // Split(axis=-1) (identical meaning in ONNX).
  void PositiveAxes(onnx::GraphProto* g) {
    auto rank = Ranks(*g);
    for (auto& n : *g->mutable_node()) {
      if (n.input_size() == 0) continue;
      auto it = rank.find(n.input(0));
      if (it == rank.end()) continue;
      const int r = it->second;
      for (auto& a : *n.mutable_attribute()) {
        if (a.name() == "axis" && a.type() == onnx::AttributeProto::INT && a.i() < 0 &&
            a.i() >= -r && (n.op_type() == "Split" || n.op_type() == "Concat")) {
          a.set_i(a.i() + r);
          ++(*counts_)[n.op_type() + " negative axis made positive"];
        }
      }
    }
  }

  // The single node reading `value`, or null when none or several read it (or it is an output).
  const onnx::NodeProto* SoleConsumer(const Uses& uses, const std::string& value) const {
    auto it = uses.readers.find(value);
    if (it == uses.readers.end() || it->second.several_nodes || graph_outputs_.count(value) != 0) {
      return nullptr;
    }
    return it->second.first;
  }

  // LayerNorm over the last axis as OpenCV's MVN layer: (x - mean) / sqrt(var + eps) per row of
  // the last axis (rank 3: across_channels 0 normalises dims 2..; rank 2: across_channels 1
  // normalises dims 1..). OpenCV 4.6 has no LayerNormalization and cannot run the decomposed
  // form (its Sub/Div broadcast a [N,T,1] operand wrongly).
  static onnx::NodeProto MakeMvn(const std::string& name, const std::string& in,
                                 const std::string& out, float eps, int rank) {
    onnx::NodeProto mvn;
    mvn.set_op_type("MVN");  // OpenCV creates unknown op types by their layer name
    mvn.set_name(name);
    mvn.add_input(in);
    mvn.add_output(out);
    auto* a = mvn.add_attribute();
    a->set_name("eps");
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(eps);
    a = mvn.add_attribute();
    a->set_name("normalize_variance");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(1);
    a = mvn.add_attribute();
    a->set_name("across_channels");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(rank == 2 ? 1 : 0);
    return mvn;
  }

  // x * scale (+ bias) along the last axis as OpenCV's Scale layer: its Mul importer applies a
  // 1-D constant along axis 1 whatever the rank, which is wrong for [N,T,D] activations.
  static onnx::NodeProto MakeScale(const std::string& name, const std::string& in,
                                   const std::string& scale, const std::string& bias,
                                   const std::string& out, int rank) {
    onnx::NodeProto n;
    n.set_op_type("Scale");  // created by its layer name, constant inputs become its blobs
    n.set_name(name);
    n.add_input(in);
    n.add_input(scale);
    if (!bias.empty()) n.add_input(bias);
    n.add_output(out);
    auto* a = n.add_attribute();
    a->set_name("axis");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(rank - 1);
    a = n.add_attribute();
    a->set_name("bias_term");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(bias.empty() ? 0 : 1);
    return n;
  }

  // The Mul(scale) and Add(bias) that follow a decomposed LayerNorm, folded into one Scale.
  // `mvn` maps each MVN output to its rank and the declared size of its last axis (-1 unknown).
  void FuseLayerNormAffine(onnx::GraphProto* g,
                           const std::unordered_map<std::string, std::pair<int, int64_t>>& mvn) {
    std::set<const onnx::NodeProto*> drop;
    std::unordered_map<const onnx::NodeProto*, onnx::NodeProto> replace;
    const Uses uses(*g);
    for (const auto& [out, shape] : mvn) {
      const int rank = shape.first;
      const int64_t last_dim = shape.second;  // a plain local: lambdas may not capture bindings
      auto one_dim_const = [&](const std::string& name) { return AffineConstant(name, last_dim); };
      const onnx::NodeProto* mul = SoleConsumer(uses, out);
      if (mul == nullptr || mul->op_type() != "Mul" || mul->input_size() != 2) continue;
      const int w = mul->input(0) == out ? 1 : 0;
      if (mul->input(1 - w) != out || !one_dim_const(mul->input(w))) continue;
      const onnx::NodeProto* add = SoleConsumer(uses, mul->output(0));
      std::string bias;
      std::string result = mul->output(0);
      if (add != nullptr && add->op_type() == "Add" && add->input_size() == 2) {
        const int b = add->input(0) == mul->output(0) ? 1 : 0;
        if (add->input(1 - b) == mul->output(0) && one_dim_const(add->input(b))) {
          bias = add->input(b);
          result = add->output(0);
          drop.insert(add);
        }
      }
      replace[mul] = MakeScale(mul->name() + "/affine", out, mul->input(w), bias, result, rank);
      ++(*counts_)["LayerNorm scale/bias as Scale"];
    }
    if (replace.empty()) return;
    std::vector<onnx::NodeProto> kept;
    for (const auto& n : g->node()) {
      if (drop.count(&n) != 0) continue;
      auto it = replace.find(&n);
      kept.push_back(it == replace.end() ? n : it->second);
    }
    g->clear_node();
    for (auto& n : kept) *g->add_node() = std::move(n);
  }

  // The declared size of the last axis of `value` (graph input, value_info or output); -1 when
  // no shape is declared or the last dimension is symbolic.
  static int64_t LastDim(const onnx::GraphProto& g, const std::string& value) {
    for (const auto* list : {&g.input(), &g.value_info(), &g.output()}) {
      for (const auto& v : *list) {
        if (v.name() != value || !v.type().has_tensor_type()) continue;
        const auto& tt = v.type().tensor_type();
        if (!tt.has_shape() || tt.shape().dim_size() == 0) return -1;
        const auto& d = tt.shape().dim(tt.shape().dim_size() - 1);
        return d.has_dim_value() ? d.dim_value() : -1;
      }
    }
    return -1;
  }

  // OpenCV's Scale layer applies its blob along one axis without broadcasting: the constant
  // must be a 1-D float with one value per element of the last axis. When that axis is not
  // declared, a length above 1 can only be it (ONNX broadcasting allows 1 or the axis size).
  bool AffineConstant(const std::string& name, int64_t last_dim) const {
    const onnx::TensorProto* t = consts_.Find(name);
    if (t == nullptr || t->dims_size() != 1 || t->data_type() != onnx::TensorProto::FLOAT) {
      return false;
    }
    return last_dim > 0 ? t->dims(0) == last_dim : t->dims(0) > 1;
  }

  static bool LastAxisOnly(const onnx::NodeProto& reduce, int rank) {
    int64_t keep = 1;
    std::vector<int64_t> axes;
    for (const auto& a : reduce.attribute()) {
      if (a.name() == "keepdims") keep = a.i();
      if (a.name() == "axes") axes.assign(a.ints().begin(), a.ints().end());
    }
    return keep == 1 && axes.size() == 1 && (axes[0] == -1 || axes[0] == rank - 1);
  }

  Status FuseLayerNorm(onnx::GraphProto* g) {
    auto rank = Ranks(*g);
    std::set<const onnx::NodeProto*> drop;
    std::unordered_map<const onnx::NodeProto*, std::vector<onnx::NodeProto>> replace;
    std::unordered_map<std::string, std::pair<int, int64_t>> mvn_outputs;
    const Uses uses(*g);
    for (const auto& n : g->node()) {
      if (n.op_type() == "LayerNormalization" && n.input_size() >= 2 && n.output_size() == 1) {
        auto r = rank.find(n.input(0));
        int64_t axis = -1;
        float eps = 1e-5f;
        for (const auto& a : n.attribute()) {
          if (a.name() == "axis") axis = a.i();
          if (a.name() == "epsilon") eps = a.f();
        }
        if (r == rank.end() || (r->second != 2 && r->second != 3) ||
            (axis != -1 && axis != r->second - 1)) {
          continue;  // the importer refuses LayerNormalization with one line naming it
        }
        // The rewrite bakes scale and bias into a Scale layer: a run-time value would be
        // ignored, and a length other than the last axis fails inside OpenCV at run time.
        const bool bias = n.input_size() >= 3 && !n.input(2).empty();
        const int64_t last_dim = LastDim(*g, n.input(0));
        for (int i = 1; i <= (bias ? 2 : 1); ++i) {
          const char* what = i == 1 ? "scale" : "bias";
          const onnx::TensorProto* t = consts_.Find(n.input(i));
          if (t == nullptr) {
            return Unsupported(NodeLabel(n) + " with a '" + what +
                               "' computed at run time is not supported by opencv-dnn 4.6.0");
          }
          if (!AffineConstant(n.input(i), last_dim)) {
            int64_t values = 1;
            for (int64_t d : t->dims()) values *= d;
            return Unsupported(
                NodeLabel(n) + " with a '" + what + "' of " + std::to_string(values) +
                " value(s) over a last axis of " +
                (last_dim > 0 ? std::to_string(last_dim) : std::string("unknown size")) +
                " is not supported by opencv-dnn 4.6.0");
          }
        }
        std::vector<onnx::NodeProto> nodes;
        const std::string base = n.output(0) + "/oxide_mvn";
        nodes.push_back(MakeMvn(n.name() + "/mvn", n.input(0), base, eps, r->second));
        nodes.push_back(MakeScale(n.name() + "/affine", base, n.input(1),
                                  bias ? n.input(2) : std::string(), n.output(0), r->second));
        replace[&n] = std::move(nodes);
        ++(*counts_)["LayerNormalization as MVN + Scale"];
        continue;
      }
      // Decomposed: ReduceMean -> Sub -> Pow(2) -> ReduceMean -> Add(eps) -> Sqrt -> Div.
      if (n.op_type() != "Div" || n.input_size() != 2) continue;
      const onnx::NodeProto* sqrt = uses.Producer(n.input(1));
      const onnx::NodeProto* sub = uses.Producer(n.input(0));
      if (sqrt == nullptr || sqrt->op_type() != "Sqrt" || sub == nullptr ||
          sub->op_type() != "Sub" || sub->input_size() != 2) {
        continue;
      }
      const onnx::NodeProto* add = uses.Producer(sqrt->input(0));
      if (add == nullptr || add->op_type() != "Add" || add->input_size() != 2) continue;
      const onnx::TensorProto* eps_t = consts_.Find(add->input(1));
      float eps;
      if (eps_t == nullptr || !ReadOneFloat(*eps_t, &eps)) continue;
      const onnx::NodeProto* var = uses.Producer(add->input(0));
      if (var == nullptr || var->op_type() != "ReduceMean") continue;
      const onnx::NodeProto* pow = uses.Producer(var->input(0));
      if (pow == nullptr || pow->op_type() != "Pow" || pow->input_size() != 2 ||
          pow->input(0) != sub->output(0)) {
        continue;
      }
      const onnx::TensorProto* two = consts_.Find(pow->input(1));
      float p;
      if (two == nullptr || !ReadOneFloat(*two, &p) || p != 2.0f) continue;
      const onnx::NodeProto* mean = uses.Producer(sub->input(1));
      if (mean == nullptr || mean->op_type() != "ReduceMean" || mean->input(0) != sub->input(0)) {
        continue;
      }
      auto r = rank.find(sub->input(0));
      if (r == rank.end() || (r->second != 2 && r->second != 3) ||
          !LastAxisOnly(*mean, r->second) || !LastAxisOnly(*var, r->second)) {
        continue;
      }
      // Every intermediate value must feed only the pattern.
      if (SoleConsumer(uses, mean->output(0)) != sub || SoleConsumer(uses, var->output(0)) != add ||
          SoleConsumer(uses, add->output(0)) != sqrt || SoleConsumer(uses, sqrt->output(0)) != &n ||
          SoleConsumer(uses, pow->output(0)) != var || IsGraphOutput(*g, sub->output(0))) {
        continue;
      }
      if (uses.Reads(sub->output(0)) != 2) continue;
      for (const onnx::NodeProto* x : {mean, sub, pow, var, add, sqrt}) drop.insert(x);
      replace[&n] = {MakeMvn(n.name() + "/mvn", sub->input(0), n.output(0), eps, r->second)};
      mvn_outputs[n.output(0)] = {r->second, LastDim(*g, sub->input(0))};
      ++(*counts_)["decomposed LayerNorm as MVN"];
    }
    if (drop.empty() && replace.empty()) return Status::Ok();
    std::vector<onnx::NodeProto> kept;
    for (const auto& n : g->node()) {
      if (drop.count(&n) != 0) continue;
      auto it = replace.find(&n);
      if (it == replace.end()) {
        kept.push_back(n);
      } else {
        for (auto& x : it->second) kept.push_back(std::move(x));
      }
    }
    g->clear_node();
    for (auto& n : kept) *g->add_node() = std::move(n);
    FuseLayerNormAffine(g, mvn_outputs);
    return Status::Ok();
  }

  onnx::ModelProto* model_;
  std::map<std::string, int>* counts_;
  Consts consts_;
  std::set<std::string> graph_outputs_;
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
  std::set<std::string> constants;
  for (const auto& t : model.graph().initializer()) constants.insert(t.name());
  for (const auto& n : model.graph().node()) {
    if (n.op_type() == "MatMul" && n.input_size() == 2 && constants.count(n.input(0)) == 0 &&
        constants.count(n.input(1)) == 0) {
      out.matmul_of_activations = true;
    }
  }
  if (!model.SerializeToString(&out.onnx)) return Internal("cannot serialise the rewritten model");
  return out;
}

}  // namespace oxide::inference
