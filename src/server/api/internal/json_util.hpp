#pragma once

// JSON helpers for the route handlers. Internal to server/api (the HTTP/JSON adapter):
// scripts/check_includes keeps nlohmann and this header from spreading. Never throws:
// parsing uses allow_exceptions=false and dumping replaces invalid UTF-8.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "server/api/http_types.hpp"
#include "store/records.hpp"

namespace oxide::server::api {

using Json = nlohmann::json;

// Shape limits checked before a body is parsed: deep nesting and huge element counts cost the
// parser (and every later walk) time and memory out of proportion to the bytes sent.
inline constexpr int kMaxJsonDepth = 32;            // nested objects/arrays
inline constexpr size_t kMaxJsonElements = 10'000;  // values, object members included

// kCorrupt when `text` nests deeper than kMaxJsonDepth or holds more than kMaxJsonElements
// values. A lexical scan (strings and escapes skipped), so it is linear and allocation-free;
// it does not validate the syntax (the parser does).
Status CheckJsonShape(std::string_view text);

// Body → JSON object. kUnsupported (415) for a non-JSON Content-Type, kCorrupt (400) for bad
// syntax or a body over the shape limits (CheckJsonShape), kInvalidArgument (422) when it is
// not an object. An empty body gives an empty object when allow_empty, else kInvalidArgument.
Result<Json> ParseJsonObject(const Request& req, bool allow_empty);

// Field readers: kInvalidArgument (422) for a missing required field or a wrong type.
Result<std::string> RequiredString(const Json& j, const char* key);
Result<std::optional<std::string>> OptionalString(const Json& j, const char* key);
Result<std::optional<uint32_t>> OptionalU32(const Json& j, const char* key);
Result<std::map<std::string, std::string>> OptionalStringMap(const Json& j, const char* key);

std::string Dump(const Json& j);
Response JsonResponse(int status, const Json& j);
// RFC 3339 UTC with milliseconds ("2026-11-27T15:01:14.123Z"), or null for 0.
Json TimeJson(store::TimeMs t);

}  // namespace oxide::server::api
