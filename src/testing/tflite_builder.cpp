#include "testing/tflite_builder.hpp"

#include <map>

#include "testing/gguf_builder.hpp"
#include "testing/onnx_builder.hpp"

namespace oxide::testing {
namespace {

// A front-to-back FlatBuffer writer: objects are appended, and uoffset slots are patched once
// their target is written (targets always come later, so offsets are positive).
class FlatWriter {
 public:
  struct Field {
    int id;
    std::string bytes;  // scalar value, or 4 placeholder bytes for an offset
  };

  uint64_t size() const { return buf_.size(); }
  void Align(size_t a) { buf_.resize((buf_.size() + a - 1) / a * a, '\0'); }
  void Append(std::string_view s) { buf_.append(s); }
  void PutU32At(uint64_t pos, uint32_t v) {
    for (int i = 0; i < 4; ++i) buf_[pos + i] = static_cast<char>(v >> (8 * i));
  }
  void PutU64At(uint64_t pos, uint64_t v) {
    for (int i = 0; i < 8; ++i) buf_[pos + i] = static_cast<char>(v >> (8 * i));
  }
  void Patch(uint64_t slot, uint64_t target) {
    PutU32At(slot, static_cast<uint32_t>(target - slot));
  }

  // Writes vtable then table; returns the table position, slots[id] = field position.
  uint64_t Table(const std::vector<Field>& fields, std::map<int, uint64_t>* slots,
                 uint64_t* vtable_pos = nullptr) {
    Align(4);
    int max_id = -1;
    for (const Field& f : fields) max_id = std::max(max_id, f.id);
    const uint64_t vt = size();
    const uint16_t vt_size = static_cast<uint16_t>(4 + 2 * (max_id + 1));
    std::vector<uint16_t> offs(max_id + 1, 0);
    uint16_t table_size = 4;
    for (const Field& f : fields) {
      offs[f.id] = table_size;
      table_size = static_cast<uint16_t>(table_size + f.bytes.size());
    }
    auto u16 = [&](uint16_t v) {
      buf_ += static_cast<char>(v & 0xff);
      buf_ += static_cast<char>(v >> 8);
    };
    u16(vt_size);
    u16(table_size);
    for (uint16_t o : offs) u16(o);
    Align(4);
    const uint64_t table = size();
    buf_ += GgufBuilder::U32(static_cast<uint32_t>(table - vt));  // soffset: vtable before
    for (const Field& f : fields) {
      if (slots) (*slots)[f.id] = table + offs[f.id];
      buf_ += f.bytes;
    }
    if (vtable_pos) *vtable_pos = vt;
    return table;
  }

  // u32 count + `count` placeholder slots; returns the position of the count.
  uint64_t SlotVector(size_t count) {
    Align(4);
    const uint64_t pos = size();
    buf_ += GgufBuilder::U32(static_cast<uint32_t>(count));
    buf_.append(4 * count, '\0');
    return pos;
  }
  uint64_t String(std::string_view s) {
    Align(4);
    const uint64_t pos = size();
    buf_ += GgufBuilder::U32(static_cast<uint32_t>(s.size()));
    buf_.append(s);
    buf_ += '\0';
    return pos;
  }
  // Byte vector whose data starts 16-aligned (Buffer.data is force_align: 16).
  uint64_t Bytes(std::string_view s) {
    Align(4);
    while ((size() + 4) % 16 != 0) buf_.append(4, '\0');
    const uint64_t pos = size();
    buf_ += GgufBuilder::U32(static_cast<uint32_t>(s.size()));
    buf_.append(s);
    return pos;
  }
  std::string Take() { return std::move(buf_); }

 private:
  std::string buf_;
};

std::string Placeholder() { return std::string(4, '\0'); }

}  // namespace

TfliteBuilder::TfliteBuilder() : buffers_{{"", false}}, subgraphs_(1) {}

uint32_t TfliteBuilder::AddBuffer(std::string_view data) {
  buffers_.push_back({std::string(data), false});
  return static_cast<uint32_t>(buffers_.size() - 1);
}

uint32_t TfliteBuilder::AddOffsetBuffer(std::string_view data) {
  buffers_.push_back({std::string(data), true});
  return static_cast<uint32_t>(buffers_.size() - 1);
}

TfliteBuilder& TfliteBuilder::AddSubgraph() {
  subgraphs_.emplace_back();
  return *this;
}

TfliteBuilder& TfliteBuilder::AddTensor(std::string name, uint8_t type, std::vector<int32_t> shape,
                                        uint32_t buffer) {
  subgraphs_.back().push_back({std::move(name), type, std::move(shape), buffer});
  return *this;
}

TfliteBuilder& TfliteBuilder::AddMetadata(std::string name, uint32_t buffer) {
  metadata_.emplace_back(std::move(name), buffer);
  return *this;
}

TfliteBuilder& TfliteBuilder::SetDescription(std::string description) {
  description_ = std::move(description);
  return *this;
}

std::string TfliteBuilder::Build(TfliteLayout* layout) const {
  TfliteLayout local;
  TfliteLayout& lay = layout ? *layout : local;
  lay = TfliteLayout{};
  FlatWriter w;
  w.Append(Placeholder());
  w.Append("TFL3");
  std::vector<FlatWriter::Field> model_fields = {
      {0, GgufBuilder::U32(3)}, {2, Placeholder()}, {4, Placeholder()}};
  if (!description_.empty()) model_fields.push_back({3, Placeholder()});
  if (!metadata_.empty()) model_fields.push_back({6, Placeholder()});
  std::map<int, uint64_t> model;
  lay.model_table = w.Table(model_fields, &model, &lay.model_vtable);
  w.Patch(0, lay.model_table);

  // Subgraphs, their tensors, shapes and names.
  lay.subgraphs_vector = w.SlotVector(subgraphs_.size());
  w.Patch(model[2], lay.subgraphs_vector);
  for (size_t s = 0; s < subgraphs_.size(); ++s) {
    std::map<int, uint64_t> g;
    w.Patch(lay.subgraphs_vector + 4 + 4 * s, w.Table({{0, Placeholder()}}, &g));
    const uint64_t tv = w.SlotVector(subgraphs_[s].size());
    w.Patch(g[0], tv);
    for (size_t i = 0; i < subgraphs_[s].size(); ++i) {
      const Tensor& t = subgraphs_[s][i];
      std::map<int, uint64_t> f;
      uint64_t vt = 0;
      const uint64_t table = w.Table({{0, Placeholder()},
                                      {1, std::string(1, static_cast<char>(t.type))},
                                      {2, GgufBuilder::U32(t.buffer)},
                                      {3, Placeholder()}},
                                     &f, &vt);
      w.Patch(tv + 4 + 4 * i, table);
      const uint64_t shape = w.SlotVector(t.shape.size());
      for (size_t d = 0; d < t.shape.size(); ++d) {
        w.PutU32At(shape + 4 + 4 * d, static_cast<uint32_t>(t.shape[d]));
      }
      w.Patch(f[0], shape);
      const uint64_t name = w.String(t.name);
      w.Patch(f[3], name);
      if (s == 0 && i == 0) {
        lay.first_tensor_table = table;
        lay.first_tensor_vtable = vt;
        lay.first_tensor_name = name;
      }
    }
  }
  if (!description_.empty()) w.Patch(model[3], w.String(description_));

  // Buffers.
  lay.buffers_vector = w.SlotVector(buffers_.size());
  w.Patch(model[4], lay.buffers_vector);
  std::vector<std::pair<uint64_t, size_t>> offset_fields;  // (slot of offset, buffer)
  for (size_t i = 0; i < buffers_.size(); ++i) {
    const Buffer& b = buffers_[i];
    std::map<int, uint64_t> f;
    uint64_t table = 0;
    if (b.by_offset) {
      table = w.Table(
          {{0, Placeholder()}, {1, GgufBuilder::U64(0)}, {2, GgufBuilder::U64(b.data.size())}}, &f);
      offset_fields.emplace_back(f[1], i);
      const uint64_t empty = w.Bytes("");  // an empty data vector beside the offset
      w.Patch(f[0], empty);
      lay.buffer_data.push_back(empty);
    } else if (b.data.empty()) {
      table = w.Table({}, &f);
      lay.buffer_data.push_back(0);
    } else {
      table = w.Table({{0, Placeholder()}}, &f);
      const uint64_t data = w.Bytes(b.data);
      w.Patch(f[0], data);
      lay.buffer_data.push_back(data);
    }
    lay.buffer_tables.push_back(table);
    w.Patch(lay.buffers_vector + 4 + 4 * i, table);
  }

  // Metadata.
  if (!metadata_.empty()) {
    const uint64_t mv = w.SlotVector(metadata_.size());
    w.Patch(model[6], mv);
    for (size_t i = 0; i < metadata_.size(); ++i) {
      std::map<int, uint64_t> f;
      w.Patch(mv + 4 + 4 * i,
              w.Table({{0, Placeholder()}, {1, GgufBuilder::U32(metadata_[i].second)}}, &f));
      w.Patch(f[0], w.String(metadata_[i].first));
    }
  }

  // Data of offset buffers, after the FlatBuffer.
  for (const auto& [slot, i] : offset_fields) {
    w.Align(16);
    w.PutU64At(slot, w.size());
    w.Append(buffers_[i].data);
  }
  return w.Take();
}

std::string SampleTflite(uint64_t finetune_seed) {
  auto weights = [&](size_t n, uint64_t seed) {
    std::string v = RandomNormalF32(n, seed);
    return finetune_seed != 0 ? FineTuneF32(v, finetune_seed + seed, 1e-2f) : v;
  };
  TfliteBuilder b;
  b.SetDescription("oxide test model");
  const uint32_t dense = b.AddBuffer(weights(64 * 32, 1));
  const uint32_t conv = b.AddBuffer(F32ToF16Bytes(weights(8 * 3 * 3 * 16, 2)));
  std::string q(32 * 16, '\0');
  for (size_t i = 0; i < q.size(); ++i) q[i] = static_cast<char>(i * 13 + 5);
  const uint32_t qw = b.AddBuffer(q);
  std::string bias;
  for (int i = 0; i < 32; ++i) bias += GgufBuilder::U32(static_cast<uint32_t>(i * 1000 - 7));
  const uint32_t bias_buf = b.AddBuffer(bias);
  const uint32_t orphan = b.AddBuffer("orphan bytes no tensor uses");
  (void)orphan;
  const uint32_t version = b.AddBuffer(std::string("1.14.0\0", 7));
  b.AddTensor("serving_default_input:0", TfliteBuilder::kFloat32, {1, 64}, 0);
  b.AddTensor("dense/MatMul", TfliteBuilder::kFloat32, {32, 64}, dense);
  b.AddTensor("conv/Conv2D", TfliteBuilder::kFloat16, {16, 3, 3, 8}, conv);
  b.AddTensor("dense_1/MatMul;quant", TfliteBuilder::kInt8, {16, 32}, qw);
  b.AddTensor("dense_1/bias", TfliteBuilder::kInt32, {32}, bias_buf);
  b.AddTensor("Identity", TfliteBuilder::kFloat32, {1, 16}, 0);
  b.AddSubgraph();
  b.AddTensor("while/cond/x", TfliteBuilder::kInt8, {16, 32}, qw);  // shares the INT8 weights
  b.AddMetadata("min_runtime_version", version);
  return b.Build();
}

}  // namespace oxide::testing
