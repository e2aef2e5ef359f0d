// ONNX indexer: a hand-written walk over the protobuf wire format of onnx.proto (no libprotobuf),
// so the agent can index models without protobuf's 2 GiB limits or its allocations. See
// docs/format/tensor-index.md for what is indexed and how nested tensors are named.
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "tensor/index_util.hpp"
#include "tensor/onnx_fields.hpp"
#include "tensor/tensor_index.hpp"
#include "tensor/wire_reader.hpp"

namespace oxide::tensor {
namespace {

using internal::FromOnnxDataType;
using internal::WireField;
using internal::WireReader;
using internal::WireType;
namespace model_f = internal::model_f;
namespace graph_f = internal::graph_f;
namespace node_f = internal::node_f;
namespace attr_f = internal::attr_f;
namespace tensor_f = internal::tensor_f;
namespace sparse_f = internal::sparse_f;
namespace function_f = internal::function_f;
namespace training_f = internal::training_f;
namespace entry_f = internal::entry_f;

// A graph nested inside a node attribute counts one level; real models use a handful
// (If inside Loop inside If). The limit bounds recursion on hostile input.
constexpr int kMaxGraphDepth = 64;

bool IsLen(const WireField& f, uint32_t number) {
  return f.number == number && f.type == WireType::kLengthDelimited;
}

// A packed 4-bit tensor is typed only when its raw_data holds exactly ceil(elements / 2) bytes:
// the type promises that layout to the delta engine. Anything else (negative dims, an element
// count that overflows, a length that does not match) is indexed as opaque bytes, as TFLite
// does, rather than refused: the range stays a coding hint and the file still indexes.
void KeepPacked4IfSized(TensorInfo* t) {
  uint64_t elements = 0, bytes = 0;
  if (ElementCount(t->dims, &elements) && RawByteSize(t->dtype, elements, &bytes) &&
      bytes == t->length) {
    return;
  }
  t->dtype = DType::kU8;
  t->dims = {static_cast<int64_t>(t->length)};
}

// A data payload of one TensorProto: which field it came from decides how it is stored.
struct Payload {
  std::string_view bytes;
  Storage storage = Storage::kRaw;
};

class OnnxWalker {
 public:
  explicit OnnxWalker(std::string_view file) : file_(file) {}

  Status WalkModel();
  Result<TensorIndex> Finish();

 private:
  uint64_t OffsetOf(std::string_view sub) const {
    return static_cast<uint64_t>(sub.data() - file_.data());
  }
  WireReader Reader(std::string_view msg) const { return WireReader(msg, OffsetOf(msg)); }
  // The last length-delimited `field` of `msg` at top level (a name may follow the payloads it
  // names on the wire, so it is found before walking them); empty when absent.
  Status FindName(std::string_view msg, uint32_t field, std::string_view* name) const;

  Status WalkGraph(std::string_view msg, const std::string& path, int depth, bool is_main);
  Status WalkNode(std::string_view msg, const std::string& graph_path, size_t index, int depth);
  Status WalkAttribute(std::string_view msg, const std::string& owner, size_t index, int depth);
  Status WalkFunction(std::string_view msg, size_t index);
  Status WalkTrainingInfo(std::string_view msg, size_t index);
  // Indexes one TensorProto when it has data; `*name` receives its own name field.
  Status WalkTensor(std::string_view msg, const std::string& synthetic, bool fixed,
                    std::string* name);
  Status WalkSparse(std::string_view msg, const std::string& synthetic, bool fixed,
                    std::string* name);
  Status ParseEntry(std::string_view msg, std::string* key, std::string* value);

  std::string_view file_;
  TensorIndex index_;
  std::vector<internal::NamedTensor> found_;
};

Status OnnxWalker::FindName(std::string_view msg, uint32_t field, std::string_view* name) const {
  WireReader r = Reader(msg);
  WireField f;
  while (!r.done()) {
    OXIDE_RETURN_IF_ERROR(r.Next(&f));
    if (IsLen(f, field)) *name = f.payload;
  }
  return Status::Ok();
}

Status OnnxWalker::WalkModel() {
  bool has_ir_version = false;
  bool has_graph = false;
  size_t function_index = 0;
  size_t training_index = 0;
  WireReader r = Reader(file_);
  WireField f;
  while (!r.done()) {
    OXIDE_RETURN_IF_ERROR(r.Next(&f));
    if (f.number == model_f::kIrVersion && f.type == WireType::kVarint) {
      has_ir_version = true;
    } else if (IsLen(f, model_f::kGraph)) {
      has_graph = true;
      OXIDE_RETURN_IF_ERROR(WalkGraph(f.payload, "main", 1, true));
    } else if (IsLen(f, model_f::kFunctions)) {
      OXIDE_RETURN_IF_ERROR(WalkFunction(f.payload, function_index++));
    } else if (IsLen(f, model_f::kTrainingInfo)) {
      OXIDE_RETURN_IF_ERROR(WalkTrainingInfo(f.payload, training_index++));
    } else if (IsLen(f, model_f::kMetadataProps)) {
      std::string key, value;
      OXIDE_RETURN_IF_ERROR(ParseEntry(f.payload, &key, &value));
      index_.metadata.emplace_back(std::move(key), std::move(value));
    }
  }
  // Any byte string that happens to parse as protobuf is not a model: insist on the two fields
  // every ModelProto must carry.
  if (!has_ir_version) return Corrupt("not an ONNX model: no ir_version");
  if (!has_graph && function_index == 0) return Corrupt("not an ONNX model: no graph");
  return Status::Ok();
}

Status OnnxWalker::WalkGraph(std::string_view msg, const std::string& path, int depth,
                             bool is_main) {
  if (depth > kMaxGraphDepth) {
    return Corrupt("nesting too deep at offset " + std::to_string(OffsetOf(msg)));
  }
  // Initializer names are how nodes refer to them, so two with one name make the graph
  // ambiguous: reject instead of guessing.
  std::unordered_set<std::string> names;
  size_t node_index = 0;
  size_t init_index = 0;
  WireReader r = Reader(msg);
  WireField f;
  while (!r.done()) {
    OXIDE_RETURN_IF_ERROR(r.Next(&f));
    if (IsLen(f, graph_f::kNode)) {
      OXIDE_RETURN_IF_ERROR(WalkNode(f.payload, path, node_index++, depth));
      continue;
    }
    const bool dense = IsLen(f, graph_f::kInitializer);
    if (!dense && !IsLen(f, graph_f::kSparseInitializer)) continue;
    const std::string synthetic =
        internal::JoinName(path, "initializer[" + std::to_string(init_index++) + "]");
    std::string name;
    OXIDE_RETURN_IF_ERROR(dense ? WalkTensor(f.payload, synthetic, is_main, &name)
                                : WalkSparse(f.payload, synthetic, is_main, &name));
    if (!name.empty() && !names.insert(name).second) {
      return Corrupt("duplicate tensor name '" + name + "'");
    }
  }
  return Status::Ok();
}

Status OnnxWalker::WalkNode(std::string_view msg, const std::string& graph_path, size_t index,
                            int depth) {
  std::string_view name;
  OXIDE_RETURN_IF_ERROR(FindName(msg, node_f::kName, &name));
  WireField f;
  const std::string owner = internal::JoinName(
      graph_path, name.empty() ? "#" + std::to_string(index) : std::string(name));
  size_t attr_index = 0;
  WireReader r = Reader(msg);
  while (!r.done()) {
    OXIDE_RETURN_IF_ERROR(r.Next(&f));
    if (IsLen(f, node_f::kAttribute)) {
      OXIDE_RETURN_IF_ERROR(WalkAttribute(f.payload, owner, attr_index++, depth));
    }
  }
  return Status::Ok();
}

Status OnnxWalker::WalkAttribute(std::string_view msg, const std::string& owner, size_t index,
                                 int depth) {
  std::string_view name;
  OXIDE_RETURN_IF_ERROR(FindName(msg, attr_f::kName, &name));
  WireField f;
  const std::string base =
      internal::JoinName(owner, name.empty() ? "#" + std::to_string(index) : std::string(name));
  size_t tensors = 0, graphs = 0, sparse = 0;
  auto nth = [&base](size_t* n) { return base + "[" + std::to_string((*n)++) + "]"; };
  WireReader r = Reader(msg);
  while (!r.done()) {
    OXIDE_RETURN_IF_ERROR(r.Next(&f));
    if (f.type != WireType::kLengthDelimited) continue;
    std::string ignored;
    switch (f.number) {
      case attr_f::kT:
        OXIDE_RETURN_IF_ERROR(WalkTensor(f.payload, base, false, &ignored));
        break;
      case attr_f::kTensors:
        OXIDE_RETURN_IF_ERROR(WalkTensor(f.payload, nth(&tensors), false, &ignored));
        break;
      case attr_f::kSparseTensor:
        OXIDE_RETURN_IF_ERROR(WalkSparse(f.payload, base, false, &ignored));
        break;
      case attr_f::kSparseTensors:
        OXIDE_RETURN_IF_ERROR(WalkSparse(f.payload, nth(&sparse), false, &ignored));
        break;
      case attr_f::kG:
        OXIDE_RETURN_IF_ERROR(WalkGraph(f.payload, base, depth + 1, false));
        break;
      case attr_f::kGraphs:
        OXIDE_RETURN_IF_ERROR(WalkGraph(f.payload, nth(&graphs), depth + 1, false));
        break;
      default:
        break;
    }
  }
  return Status::Ok();
}

Status OnnxWalker::WalkFunction(std::string_view msg, size_t index) {
  std::string_view name;
  OXIDE_RETURN_IF_ERROR(FindName(msg, function_f::kName, &name));
  WireField f;
  const std::string path = internal::ShortenName(name.empty() ? "fn#" + std::to_string(index)
                                                              : "fn:" + std::string(name));
  const std::string defaults = internal::JoinName(path, "default");
  size_t node_index = 0, attr_index = 0;
  WireReader r = Reader(msg);
  while (!r.done()) {
    OXIDE_RETURN_IF_ERROR(r.Next(&f));
    if (IsLen(f, function_f::kNode)) {
      OXIDE_RETURN_IF_ERROR(WalkNode(f.payload, path, node_index++, 1));
    } else if (IsLen(f, function_f::kAttributeProto)) {
      // Default attribute values may hold tensors too.
      OXIDE_RETURN_IF_ERROR(WalkAttribute(f.payload, defaults, attr_index++, 1));
    }
  }
  return Status::Ok();
}

Status OnnxWalker::WalkTrainingInfo(std::string_view msg, size_t index) {
  const std::string prefix = "train[" + std::to_string(index) + "]";
  WireReader r = Reader(msg);
  WireField f;
  while (!r.done()) {
    OXIDE_RETURN_IF_ERROR(r.Next(&f));
    if (IsLen(f, training_f::kInitialization)) {
      OXIDE_RETURN_IF_ERROR(WalkGraph(f.payload, prefix + "/init", 1, false));
    } else if (IsLen(f, training_f::kAlgorithm)) {
      OXIDE_RETURN_IF_ERROR(WalkGraph(f.payload, prefix + "/algo", 1, false));
    }
  }
  return Status::Ok();
}

Status OnnxWalker::ParseEntry(std::string_view msg, std::string* key, std::string* value) {
  WireReader r = Reader(msg);
  WireField f;
  while (!r.done()) {
    OXIDE_RETURN_IF_ERROR(r.Next(&f));
    if (IsLen(f, entry_f::kKey)) *key = std::string(f.payload);
    if (IsLen(f, entry_f::kValue)) *value = std::string(f.payload);
  }
  return Status::Ok();
}

Status OnnxWalker::WalkTensor(std::string_view msg, const std::string& synthetic, bool fixed,
                              std::string* name) {
  TensorInfo t;
  bool has_raw = false;
  std::string_view raw;
  std::vector<Payload> packed;
  uint64_t data_location = 0;
  std::string location;
  WireReader r = Reader(msg);
  WireField f;
  while (!r.done()) {
    OXIDE_RETURN_IF_ERROR(r.Next(&f));
    const bool len = f.type == WireType::kLengthDelimited;
    if (f.number == tensor_f::kDims && f.type == WireType::kVarint) {
      t.dims.push_back(static_cast<int64_t>(f.value));
    } else if (f.number == tensor_f::kDims && len) {
      WireReader dims = Reader(f.payload);
      uint64_t d = 0;
      while (!dims.done()) {
        OXIDE_RETURN_IF_ERROR(dims.NextVarint(&d));
        t.dims.push_back(static_cast<int64_t>(d));
      }
    } else if (f.number == tensor_f::kDataType && f.type == WireType::kVarint) {
      t.dtype = FromOnnxDataType(f.value);
    } else if (f.number == tensor_f::kDataLocation && f.type == WireType::kVarint) {
      data_location = f.value;
    } else if (!len) {
      continue;  // unpacked typed values and unknown scalars stay framing
    } else if (f.number == tensor_f::kName) {
      *name = std::string(f.payload);
    } else if (f.number == tensor_f::kRawData) {
      has_raw = true;  // a singular bytes field: the last occurrence wins, as in protobuf
      raw = f.payload;
    } else if (f.number == tensor_f::kFloatData || f.number == tensor_f::kDoubleData) {
      const size_t width = f.number == tensor_f::kFloatData ? 4 : 8;
      if (f.payload.size() % width != 0) {
        return Corrupt("packed fixed-width data of " + std::to_string(f.payload.size()) +
                       " bytes at offset " + std::to_string(OffsetOf(f.payload)));
      }
      packed.push_back({f.payload, Storage::kPackedFixed});
    } else if (f.number == tensor_f::kInt32Data || f.number == tensor_f::kInt64Data ||
               f.number == tensor_f::kUint64Data) {
      packed.push_back({f.payload, Storage::kPackedVarint});
    } else if (f.number == tensor_f::kExternalData) {
      std::string key, value;
      OXIDE_RETURN_IF_ERROR(ParseEntry(f.payload, &key, &value));
      if (key == "location") location = std::move(value);
    }
  }
  t.name = name->empty() ? synthetic : *name;
  const bool keeps_name = fixed && !name->empty();
  if (data_location == internal::kDataLocationExternal) {
    if (location.empty()) return Corrupt("external tensor '" + t.name + "' has no location");
    t.storage = Storage::kExternal;
    t.external_location = std::move(location);
    t.offset = OffsetOf(msg);  // empty range placed where the tensor is described
    found_.push_back({std::move(t), keeps_name});
    return Status::Ok();
  }
  // One range per tensor: raw_data when present, else the first non-empty packed run. Any
  // other run (split packed fields, which real writers do not emit) stays framing.
  std::optional<Payload> chosen;
  if (has_raw) chosen = Payload{raw, Storage::kRaw};
  for (const Payload& p : packed) {
    if (!chosen || (chosen->bytes.empty() && !p.bytes.empty())) chosen = p;
  }
  if (!chosen) return Status::Ok();  // no data we can index (strings, unpacked values)
  t.storage = chosen->storage;
  t.offset = OffsetOf(chosen->bytes);
  t.length = chosen->bytes.size();
  if (IsPacked4(t.dtype) && t.storage == Storage::kRaw) KeepPacked4IfSized(&t);
  found_.push_back({std::move(t), keeps_name});
  return Status::Ok();
}

Status OnnxWalker::WalkSparse(std::string_view msg, const std::string& synthetic, bool fixed,
                              std::string* name) {
  // The indices are named after the values, which may come later on the wire.
  std::vector<std::string_view> values, indices;
  WireReader r = Reader(msg);
  WireField f;
  while (!r.done()) {
    OXIDE_RETURN_IF_ERROR(r.Next(&f));
    if (IsLen(f, sparse_f::kValues)) values.push_back(f.payload);
    if (IsLen(f, sparse_f::kIndices)) indices.push_back(f.payload);
  }
  for (std::string_view v : values) {
    OXIDE_RETURN_IF_ERROR(WalkTensor(v, synthetic, fixed, name));
  }
  const std::string indices_name = internal::JoinName(name->empty() ? synthetic : *name, "indices");
  for (std::string_view i : indices) {
    std::string ignored;
    OXIDE_RETURN_IF_ERROR(WalkTensor(i, indices_name, false, &ignored));
  }
  return Status::Ok();
}

Result<TensorIndex> OnnxWalker::Finish() {
  OXIDE_ASSIGN_OR_RETURN(index_.tensors, internal::AssignUniqueNames(std::move(found_)));
  index_.format = ModelFormat::kOnnx;
  OXIDE_RETURN_IF_ERROR(internal::SortAndCheckRanges(&index_.tensors, file_.size()));
  return std::move(index_);
}

}  // namespace

Result<TensorIndex> IndexOnnx(std::string_view file) {
  OnnxWalker walker(file);
  OXIDE_RETURN_IF_ERROR(walker.WalkModel());
  return walker.Finish();
}

}  // namespace oxide::tensor
