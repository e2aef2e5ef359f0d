#pragma once

// Query strings of the list routes (?limit=&after=&...). Internal to server/api. Every error is
// kCorrupt (HTTP 400, "the request is malformed") and names the parameter.

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace oxide::server::api {

class QueryParams {
 public:
  // Splits `raw` (without '?') on '&' and '=', percent-decodes names and values ('+' is a
  // space). kCorrupt for a bad %-escape, or a name not in `allowed` (a typo would otherwise
  // silently list everything).
  static Result<QueryParams> Parse(std::string_view raw,
                                   std::initializer_list<std::string_view> allowed);

  // The value of a parameter given at most once; kCorrupt when it is repeated.
  Result<std::optional<std::string>> One(std::string_view name) const;
  // Every value of a repeatable parameter, in order.
  std::vector<std::string> All(std::string_view name) const;
  // "limit": `fallback` when absent; kCorrupt unless a decimal integer in [1, max].
  Result<size_t> Limit(size_t fallback, size_t max) const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

}  // namespace oxide::server::api
