#pragma once

// The web dashboard's static files (web/* in the source tree), compiled into the binary by a
// CMake step (embed_web_assets.cmake): no file is read at run time and nothing depends on the
// working directory. No Beast or HTTP types here: the route lives in server/api/web_routes.

#include <cstddef>
#include <span>
#include <string_view>

namespace oxide::server::web {

// One embedded file. All pointers are to static storage.
struct WebAsset {
  const char* name;          // file name, e.g. "app.js" (web/ has no sub-directories)
  const char* content_type;  // from the extension, e.g. "text/javascript; charset=utf-8"
  const char* etag;          // strong ETag: the quoted SHA-256 (hex) of the bytes
  const unsigned char* data;
  size_t size;

  std::string_view bytes() const { return {reinterpret_cast<const char*>(data), size}; }
};

// Every embedded file, sorted by name.
std::span<const WebAsset> AllWebAssets();

// The file named `name` (exact, case-sensitive), or null.
const WebAsset* FindWebAsset(std::string_view name);

}  // namespace oxide::server::web
