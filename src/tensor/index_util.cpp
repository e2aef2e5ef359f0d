#include "tensor/index_util.hpp"

#include <algorithm>
#include <cstdio>
#include <unordered_map>
#include <unordered_set>

namespace oxide::tensor::internal {

std::string ShortenName(std::string name) {
  if (name.size() <= kMaxSyntheticName) return name;
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : name) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(h));
  name.resize(kMaxSyntheticName - 17);
  name += '~';
  name += hex;
  return name;
}

std::string JoinName(std::string_view parent, std::string_view child) {
  // Cut oversized pieces before concatenating so a huge name costs its length once, not once
  // per nested level.
  if (child.size() > kMaxSyntheticName) return JoinName(parent, ShortenName(std::string(child)));
  std::string joined;
  joined.reserve(parent.size() + 1 + child.size());
  joined.append(parent);
  joined += '/';
  joined.append(child);
  return ShortenName(std::move(joined));
}

Result<std::vector<TensorInfo>> AssignUniqueNames(std::vector<NamedTensor> found) {
  std::unordered_set<std::string> taken;
  for (const NamedTensor& t : found) {
    if (t.fixed && !taken.insert(t.info.name).second) {
      return Corrupt("duplicate tensor name '" + t.info.name + "'");
    }
  }
  // Next suffix to try per base name, so many clashes on one name stay linear.
  std::unordered_map<std::string, uint64_t> next_suffix;
  std::vector<TensorInfo> out;
  out.reserve(found.size());
  for (NamedTensor& t : found) {
    if (!t.fixed && !taken.insert(t.info.name).second) {
      uint64_t& n = next_suffix.try_emplace(t.info.name, 2).first->second;
      std::string candidate;
      do {
        candidate = t.info.name + "#" + std::to_string(n++);
      } while (!taken.insert(candidate).second);
      t.info.name = std::move(candidate);
    }
    out.push_back(std::move(t.info));
  }
  return out;
}

Status SortAndCheckRanges(std::vector<TensorInfo>* tensors, uint64_t file_size) {
  auto by_range = [](const TensorInfo& a, const TensorInfo& b) {
    return a.offset != b.offset ? a.offset < b.offset : a.length < b.length;
  };
  // Writers usually emit tensors in data order: skip the sort (and its moves) then.
  if (!std::is_sorted(tensors->begin(), tensors->end(), by_range)) {
    std::stable_sort(tensors->begin(), tensors->end(), by_range);
  }
  uint64_t prev_end = 0;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo& t : *tensors) {
    if (t.offset > file_size || t.length > file_size - t.offset) {
      return Corrupt("tensor '" + t.name + "' data range past end of file");
    }
    if (prev != nullptr && t.offset < prev_end) {
      return Corrupt("tensors '" + prev->name + "' and '" + t.name + "' overlap");
    }
    prev_end = t.offset + t.length;
    prev = &t;
  }
  return Status::Ok();
}

}  // namespace oxide::tensor::internal
