#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.hpp"

// A bounds-checked reader for the parts of the FlatBuffers binary format the TFLite indexer
// needs: tables through their vtables, vectors, strings and scalars. Every offset is checked
// against the buffer before it is followed; nothing is recursive (the caller walks a fixed depth).
// Errors are kCorrupt naming the field (`what`, e.g. "Model.buffers").
namespace oxide::tensor::internal {

struct FlatTable {
  uint64_t pos = 0;     // the table: an int32 soffset to its vtable, then the fields
  uint64_t vtable = 0;  // the vtable: u16 vtable size, u16 table size, u16 field offsets
  uint16_t vtable_size = 0;
  uint16_t table_size = 0;
};

struct FlatVector {
  uint64_t pos = 0;  // first element
  uint64_t count = 0;
};

class FlatReader {
 public:
  explicit FlatReader(std::string_view buf) : buf_(buf) {}

  // The root table, whose uoffset is the first 4 bytes of the buffer.
  Result<FlatTable> Root() const;
  // The table a uoffset at `slot` points to.
  Result<FlatTable> TableAt(uint64_t slot, const char* what) const;

  // Scalars; `def` when the field is absent (FlatBuffers omit fields equal to their default).
  Result<uint8_t> U8(const FlatTable& t, int field, uint8_t def, const char* what) const;
  Result<uint32_t> U32(const FlatTable& t, int field, uint32_t def, const char* what) const;
  Result<uint64_t> U64(const FlatTable& t, int field, uint64_t def, const char* what) const;
  // A vector of `elem_size`-byte elements (tables and strings are 4-byte uoffsets); an absent
  // field is an empty vector. The count is checked against the bytes left.
  Result<FlatVector> Vector(const FlatTable& t, int field, uint64_t elem_size,
                            const char* what) const;
  // A string (vector of bytes followed by a NUL); absent is "".
  Result<std::string_view> String(const FlatTable& t, int field, const char* what) const;
  // Field `field` as a table; `present` false when absent.
  Result<FlatTable> SubTable(const FlatTable& t, int field, bool* present, const char* what) const;

  uint32_t ReadU32(uint64_t pos) const;  // REQUIRES pos + 4 <= size
  uint64_t size() const { return buf_.size(); }

 private:
  // Absolute position of field `field` (of `width` bytes) in `t`, or 0 when absent.
  Result<uint64_t> FieldPos(const FlatTable& t, int field, uint64_t width, const char* what) const;
  // Follows the uoffset at `slot`: returns the target position, checked to lie in the buffer.
  Result<uint64_t> Follow(uint64_t slot, const char* what) const;
  Result<FlatVector> VectorAt(uint64_t pos, uint64_t elem_size, const char* what) const;

  std::string_view buf_;
};

}  // namespace oxide::tensor::internal
