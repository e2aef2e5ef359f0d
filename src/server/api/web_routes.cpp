#include "server/api/web_routes.hpp"

#include <string>
#include <string_view>

#include "server/api/errors.hpp"
#include "server/web/web_assets.hpp"

namespace oxide::server::api {
namespace {

// The page loads only its own files and talks only to its own origin, so the strictest policy
// fits: no inline script or style, no framing (clickjacking of the admin buttons), no
// plugins, forms and <base> pinned.
constexpr std::string_view kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

// RFC 9110 13.1.2: a list of entity tags, or "*". Weak tags compare weakly (W/ ignored), as
// GET allows.
bool MatchesIfNoneMatch(std::string_view header, std::string_view etag) {
  size_t i = 0;
  while (i < header.size()) {
    size_t j = header.find(',', i);
    if (j == std::string_view::npos) j = header.size();
    std::string_view tag = header.substr(i, j - i);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
    i = j + 1;
  }
  return false;
}

Response Serve(const Request& req, const web::WebAsset* asset, std::string_view name) {
  if (asset == nullptr)
    return ErrorResponse(NotFound("no asset named '" + std::string(name) + "'"));
  Response resp;
  resp.headers = {
      {"Content-Type", asset->content_type},
      {"ETag", asset->etag},
      // Names are not fingerprinted: revalidate every time (a 304 costs a round trip, never
      // a stale page after an upgrade of the server).
      {"Cache-Control", "no-cache"},
      {"Content-Security-Policy", std::string(kCsp)},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
  };
  if (MatchesIfNoneMatch(req.Header("if-none-match"), asset->etag)) {
    resp.status = 304;
    return resp;
  }
  resp.status = 200;
  resp.body = std::string(asset->bytes());
  return resp;
}

}  // namespace

void AddWebRoutes(const ApiDeps& /*d*/, std::vector<Route>* routes) {
  auto index = [](const Request& req, const Params&) {
    return Serve(req, web::FindWebAsset("index.html"), "index.html");
  };
  auto asset = [](const Request& req, const Params& p) {
    return Serve(req, web::FindWebAsset(p[0]), p[0]);
  };
  routes->push_back({Method::kGet, "/", index, false, nullptr, false, Access::kPublic});
  routes->push_back({Method::kGet, "/assets/:name", asset, false, nullptr, false, Access::kPublic});
}

}  // namespace oxide::server::api
