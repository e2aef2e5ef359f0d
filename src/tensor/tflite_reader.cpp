#include "tensor/tflite_reader.hpp"

#include <string>

#include "base/coding.hpp"

namespace oxide::tensor::internal {
namespace {

Status Bad(const char* what, const std::string& why) {
  return Corrupt(std::string("tflite ") + what + ": " + why);
}

}  // namespace

uint32_t FlatReader::ReadU32(uint64_t pos) const {
  return DecodeFixed32(reinterpret_cast<const uint8_t*>(buf_.data()) + pos);
}

Result<uint64_t> FlatReader::Follow(uint64_t slot, const char* what) const {
  if (slot > size() || size() - slot < 4) return Bad(what, "offset past end of file");
  const uint64_t target = slot + ReadU32(slot);
  if (target >= size()) {
    return Bad(what, "offset " + std::to_string(target) + " past end of file");
  }
  return target;
}

Result<FlatTable> FlatReader::Root() const {
  if (size() < 8) return Corrupt("tflite file shorter than 8 bytes");
  return TableAt(0, "root table");
}

Result<FlatTable> FlatReader::TableAt(uint64_t slot, const char* what) const {
  OXIDE_ASSIGN_OR_RETURN(uint64_t pos, Follow(slot, what));
  if (size() - pos < 4) return Bad(what, "table past end of file");
  FlatTable t;
  t.pos = pos;
  // soffset_t: the vtable lies at pos - soffset, before or after the table.
  const int64_t soffset = static_cast<int32_t>(ReadU32(pos));
  const int64_t vtable = static_cast<int64_t>(pos) - soffset;
  if (vtable < 0 || static_cast<uint64_t>(vtable) > size() - 4) {
    return Bad(what, "vtable offset " + std::to_string(vtable) + " outside the file");
  }
  t.vtable = static_cast<uint64_t>(vtable);
  const auto* p = reinterpret_cast<const uint8_t*>(buf_.data()) + t.vtable;
  t.vtable_size = static_cast<uint16_t>(p[0] | (p[1] << 8));
  t.table_size = static_cast<uint16_t>(p[2] | (p[3] << 8));
  if (t.vtable_size < 4 || t.vtable_size % 2 != 0 || t.vtable_size > size() - t.vtable) {
    return Bad(what, "vtable size " + std::to_string(t.vtable_size) + " invalid");
  }
  if (t.table_size < 4 || t.table_size > size() - pos) {
    return Bad(what, "table size " + std::to_string(t.table_size) + " invalid");
  }
  return t;
}

Result<uint64_t> FlatReader::FieldPos(const FlatTable& t, int field, uint64_t width,
                                      const char* what) const {
  const uint64_t entry = 4 + 2 * static_cast<uint64_t>(field);
  if (entry + 2 > t.vtable_size) return uint64_t{0};  // older writer: field absent
  const auto* p = reinterpret_cast<const uint8_t*>(buf_.data()) + t.vtable + entry;
  const uint64_t off = static_cast<uint64_t>(p[0] | (p[1] << 8));
  if (off == 0) return uint64_t{0};
  if (off < 4 || off + width > t.table_size) {
    return Bad(what, "field offset " + std::to_string(off) + " outside its table");
  }
  return t.pos + off;
}

Result<uint8_t> FlatReader::U8(const FlatTable& t, int field, uint8_t def, const char* what) const {
  OXIDE_ASSIGN_OR_RETURN(uint64_t pos, FieldPos(t, field, 1, what));
  return pos == 0 ? def : static_cast<uint8_t>(buf_[pos]);
}

Result<uint32_t> FlatReader::U32(const FlatTable& t, int field, uint32_t def,
                                 const char* what) const {
  OXIDE_ASSIGN_OR_RETURN(uint64_t pos, FieldPos(t, field, 4, what));
  return pos == 0 ? def : ReadU32(pos);
}

Result<uint64_t> FlatReader::U64(const FlatTable& t, int field, uint64_t def,
                                 const char* what) const {
  OXIDE_ASSIGN_OR_RETURN(uint64_t pos, FieldPos(t, field, 8, what));
  return pos == 0 ? def : DecodeFixed64(reinterpret_cast<const uint8_t*>(buf_.data()) + pos);
}

Result<FlatVector> FlatReader::VectorAt(uint64_t pos, uint64_t elem_size, const char* what) const {
  if (size() - pos < 4) return Bad(what, "vector length past end of file");
  FlatVector v;
  v.count = ReadU32(pos);
  v.pos = pos + 4;
  if (v.count > (size() - v.pos) / elem_size) {
    return Bad(what, "vector of " + std::to_string(v.count) + " elements past end of file");
  }
  return v;
}

Result<FlatVector> FlatReader::Vector(const FlatTable& t, int field, uint64_t elem_size,
                                      const char* what) const {
  OXIDE_ASSIGN_OR_RETURN(uint64_t slot, FieldPos(t, field, 4, what));
  if (slot == 0) return FlatVector{};
  OXIDE_ASSIGN_OR_RETURN(uint64_t pos, Follow(slot, what));
  return VectorAt(pos, elem_size, what);
}

Result<std::string_view> FlatReader::String(const FlatTable& t, int field, const char* what) const {
  OXIDE_ASSIGN_OR_RETURN(FlatVector v, Vector(t, field, 1, what));
  if (v.pos == 0) return std::string_view();
  if (v.count >= size() - v.pos || buf_[v.pos + v.count] != '\0') {
    return Bad(what, "string not NUL-terminated");
  }
  return buf_.substr(v.pos, v.count);
}

Result<FlatTable> FlatReader::SubTable(const FlatTable& t, int field, bool* present,
                                       const char* what) const {
  OXIDE_ASSIGN_OR_RETURN(uint64_t slot, FieldPos(t, field, 4, what));
  *present = slot != 0;
  if (slot == 0) return FlatTable{};
  return TableAt(slot, what);
}

}  // namespace oxide::tensor::internal
