#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "tensor/tensor_index.hpp"

// Helpers shared by the format indexers: naming of nested tensors and the final range checks.
namespace oxide::tensor::internal {

// Synthetic names are built from names found in the file; this bound keeps them (and the work
// of building them per nested level) small whatever the file holds.
inline constexpr size_t kMaxSyntheticName = 256;

// Returns `name` unchanged when it is at most kMaxSyntheticName bytes, else a prefix followed by
// "~" and a 64-bit FNV-1a hash of the whole name (deterministic, so stable across versions).
std::string ShortenName(std::string name);
// ShortenName(parent + "/" + child).
std::string JoinName(std::string_view parent, std::string_view child);

struct NamedTensor {
  TensorInfo info;
  // True for names that are part of the model's interface (top-level initializers): they are
  // never renamed, and a clash between two of them is kCorrupt.
  bool fixed = false;
};

// Makes every name unique. Fixed names are kept as they are; any other tensor whose name is
// taken gets "#2", "#3", ... in walk order, which is deterministic for a given file.
Result<std::vector<TensorInfo>> AssignUniqueNames(std::vector<NamedTensor> found);

// Sorts by (offset, length) and checks every range lies inside the file and starts at or after
// the end of the previous one (empty ranges may touch but not sit inside another range).
Status SortAndCheckRanges(std::vector<TensorInfo>* tensors, uint64_t file_size);

}  // namespace oxide::tensor::internal
