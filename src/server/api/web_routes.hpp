#pragma once

// The web dashboard's routes: GET / (index.html) and GET /assets/<name>, public (the files
// hold no data: everything the page shows comes from the JSON API with the operator's token).

#include <vector>

#include "server/api/router.hpp"

namespace oxide::server::api {

// Every response carries the security headers (CSP default-src 'self', no framing, nosniff,
// no referrer), `Cache-Control: no-cache` and the asset's strong ETag; a matching
// If-None-Match is answered 304 without a body. An unknown name is a 404 JSON error.
void AddWebRoutes(const ApiDeps& d, std::vector<Route>* routes);

}  // namespace oxide::server::api
