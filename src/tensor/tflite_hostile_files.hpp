#pragma once

// Hostile TFLite files for the indexer's tests: FlatBuffers whose tables, vectors and strings
// are shared between many slots so that a small file asks for a lot of work or memory. Used by
// tflite_index_test.cpp (the refusals) and alloc_bound_test.cpp (the bytes allocated).
#include <cstdint>
#include <string>
#include <vector>

namespace oxide::tensor::hostile {

// A FlatBuffer written by hand, front to back (every uoffset points forward), for layouts the
// builder refuses to make: many slots pointing at one table or one vector.
class RawFlat {
 public:
  uint64_t Here() const { return f_.size(); }
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) f_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void U16(uint16_t v) {
    f_.push_back(static_cast<char>(v & 0xff));
    f_.push_back(static_cast<char>(v >> 8));
  }
  uint64_t Slot() {  // a uoffset to fill in with Point()
    U32(0);
    return Here() - 4;
  }
  void Point(uint64_t slot, uint64_t target) {
    const auto v = static_cast<uint32_t>(target - slot);
    for (int i = 0; i < 4; ++i) f_[slot + i] = static_cast<char>(v >> (8 * i));
  }
  // A vtable with the given field offsets (0: absent), padded to 4 bytes; returns its position.
  uint64_t VTable(uint16_t table_size, std::vector<uint16_t> fields) {
    const uint64_t at = Here();
    U16(static_cast<uint16_t>(4 + 2 * fields.size()));
    U16(table_size);
    for (uint16_t o : fields) U16(o);
    while (f_.size() % 4 != 0) f_.push_back(0);
    return at;
  }
  uint64_t TableStart(uint64_t vtable) {  // writes the soffset; fields follow
    const uint64_t at = Here();
    U32(static_cast<uint32_t>(at - vtable));
    return at;
  }
  std::string& bytes() { return f_; }

 private:
  std::string f_;
};

// Model { subgraphs: [SubGraph { tensors }], buffers, metadata }: the root and the model table,
// with the three vector slots returned for the caller to fill.
struct ModelSlots {
  uint64_t subgraphs = 0, buffers = 0, metadata = 0;
};
inline ModelSlots RawModel(RawFlat* w) {
  const uint64_t root = w->Slot();
  w->bytes() += "TFL3";
  // Model fields: version 0, opcodes 1, subgraphs 2, description 3, buffers 4, 5, metadata 6.
  const uint64_t vt = w->VTable(16, {0, 0, 4, 0, 8, 0, 12});
  w->Point(root, w->TableStart(vt));
  ModelSlots s;
  s.subgraphs = w->Slot();
  s.buffers = w->Slot();
  s.metadata = w->Slot();
  return s;
}

// One subgraph of `tensors` tensor tables: tensor i has buffer i + 1 and every one shares a
// shape vector of `dims` ones. Buffers 1..tensors are distinct tables of 4 bytes each when
// `share_buffer_table` is false, else every buffer slot points at one Buffer table.
inline std::string SharedShapeFile(uint32_t tensors, uint32_t dims, bool share_buffer_table) {
  RawFlat w;
  ModelSlots m = RawModel(&w);
  w.Point(m.subgraphs, w.Here());
  w.U32(1);
  const uint64_t sg_slot = w.Slot();
  const uint64_t sg_vt = w.VTable(8, {4});
  w.Point(sg_slot, w.TableStart(sg_vt));
  const uint64_t tensors_slot = w.Slot();
  w.Point(tensors_slot, w.Here());
  w.U32(tensors);
  std::vector<uint64_t> tslots;
  for (uint32_t i = 0; i < tensors; ++i) tslots.push_back(w.Slot());
  // Tensor: shape 0, type 1, buffer 2, name 3; shape at +4, buffer at +8 (type FLOAT32 default).
  const uint64_t t_vt = w.VTable(12, {4, 0, 8});
  std::vector<uint64_t> shape_slots;
  for (uint32_t i = 0; i < tensors; ++i) {
    w.Point(tslots[i], w.TableStart(t_vt));
    shape_slots.push_back(w.Slot());
    w.U32(i + 1);
  }
  const uint64_t shape = w.Here();
  w.U32(dims);
  for (uint32_t d = 0; d < dims; ++d) w.U32(1);
  for (uint64_t s : shape_slots) w.Point(s, shape);
  w.Point(m.buffers, w.Here());
  w.U32(tensors + 1);
  std::vector<uint64_t> bslots;
  for (uint32_t i = 0; i <= tensors; ++i) bslots.push_back(w.Slot());
  const uint64_t b_vt = w.VTable(8, {4});  // Buffer.data at +4
  const uint64_t empty_vt = w.VTable(4, {});
  w.Point(bslots[0], w.TableStart(empty_vt));
  std::vector<uint64_t> data_slots;
  for (uint32_t i = 1; i <= tensors; ++i) {
    if (share_buffer_table && i > 1) {
      w.Point(bslots[i], w.Here() - 8);  // the previous Buffer table
      continue;
    }
    w.Point(bslots[i], w.TableStart(b_vt));
    data_slots.push_back(w.Slot());
  }
  for (uint64_t s : data_slots) {
    w.Point(s, w.Here());
    w.U32(4);
    w.U32(0x3f800000);  // 1.0f
  }
  return w.bytes();
}

// `entries` metadata entries, all naming buffer 1 (`nuls` NUL bytes). With `share_table` every
// metadata slot points at one Metadata table, else each has its own.
inline std::string SharedMetadataFile(uint32_t entries, uint32_t nuls, bool share_table) {
  RawFlat w;
  ModelSlots m = RawModel(&w);
  w.Point(m.subgraphs, w.Here());
  w.U32(0);
  w.Point(m.buffers, w.Here());
  w.U32(2);
  const uint64_t b0 = w.Slot();
  const uint64_t b1 = w.Slot();
  w.Point(b0, w.TableStart(w.VTable(4, {})));
  const uint64_t b_vt = w.VTable(8, {4});
  w.Point(b1, w.TableStart(b_vt));
  const uint64_t data = w.Slot();
  w.Point(data, w.Here());
  w.U32(nuls);
  w.bytes().append(nuls, '\0');
  while (w.Here() % 4 != 0) w.bytes().push_back('\0');
  w.Point(m.metadata, w.Here());
  w.U32(entries);
  std::vector<uint64_t> slots;
  for (uint32_t i = 0; i < entries; ++i) slots.push_back(w.Slot());
  const uint64_t m_vt = w.VTable(8, {0, 4});  // Metadata: name 0 (absent), buffer 1 at +4
  for (uint32_t i = 0; i < entries; ++i) {
    if (share_table && i > 0) {
      w.Point(slots[i], w.Here() - 8);
      continue;
    }
    w.Point(slots[i], w.TableStart(m_vt));
    w.U32(1);
  }
  return w.bytes();
}

// `entries` distinct Metadata tables sharing one name of `name_bytes` bytes (buffer 0).
inline std::string SharedNameFile(uint32_t entries, uint32_t name_bytes) {
  RawFlat w;
  ModelSlots m = RawModel(&w);
  w.Point(m.subgraphs, w.Here());
  w.U32(0);
  w.Point(m.buffers, w.Here());
  w.U32(1);
  const uint64_t b0 = w.Slot();
  w.Point(b0, w.TableStart(w.VTable(4, {})));
  w.Point(m.metadata, w.Here());
  w.U32(entries);
  std::vector<uint64_t> slots;
  for (uint32_t i = 0; i < entries; ++i) slots.push_back(w.Slot());
  const uint64_t m_vt = w.VTable(8, {4});  // name at +4, buffer 0 (default)
  std::vector<uint64_t> names;
  for (uint32_t i = 0; i < entries; ++i) {
    w.Point(slots[i], w.TableStart(m_vt));
    names.push_back(w.Slot());
  }
  const uint64_t name = w.Here();
  w.U32(name_bytes);
  w.bytes().append(name_bytes, 'n');
  w.bytes().push_back('\0');
  for (uint64_t s : names) w.Point(s, name);
  return w.bytes();
}

// `slots` buffer slots all pointing at one empty Buffer table.
inline std::string SharedEmptyBufferFile(uint32_t slots) {
  RawFlat w;
  ModelSlots m = RawModel(&w);
  w.Point(m.buffers, w.Here());
  w.U32(slots);
  std::vector<uint64_t> at;
  for (uint32_t i = 0; i < slots; ++i) at.push_back(w.Slot());
  const uint64_t empty = w.TableStart(w.VTable(4, {}));
  for (uint64_t s : at) w.Point(s, empty);
  return w.bytes();
}

}  // namespace oxide::tensor::hostile
