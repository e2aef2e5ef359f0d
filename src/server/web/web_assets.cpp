#include "server/web/web_assets.hpp"

#include <algorithm>

namespace oxide::server::web {

// Defined in the generated web_assets_data.cpp (build directory).
extern const WebAsset kWebAssets[];
extern const size_t kWebAssetCount;

std::span<const WebAsset> AllWebAssets() { return {kWebAssets, kWebAssetCount}; }

const WebAsset* FindWebAsset(std::string_view name) {
  auto all = AllWebAssets();
  auto it = std::lower_bound(
      all.begin(), all.end(), name,
      [](const WebAsset& a, std::string_view n) { return std::string_view(a.name) < n; });
  if (it == all.end() || std::string_view(it->name) != name) return nullptr;
  return &*it;
}

}  // namespace oxide::server::web
