#include "server/api/internal/json_util.hpp"

#include <ctime>

namespace oxide::server::api {

Status CheckJsonShape(std::string_view text) {
  int depth = 0;
  size_t elements = 0;
  bool in_string = false;
  bool in_scalar = false;  // inside a number or literal: counted once at its first byte
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped byte cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    const bool scalar_byte = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' ||
                             c == '+' || c == '.' || c == 'E';
    if (scalar_byte) {
      if (!in_scalar) ++elements;
      in_scalar = true;
    } else {
      in_scalar = false;
      if (c == '"') {
        in_string = true;
        ++elements;  // member names count too: {"a":1,...} costs per key
      } else if (c == '{' || c == '[') {
        ++elements;
        if (++depth > kMaxJsonDepth) {
          return Corrupt("JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
        }
      } else if (c == '}' || c == ']') {
        --depth;
      }
    }
    if (elements > kMaxJsonElements) {
      return Corrupt("JSON has more than " + std::to_string(kMaxJsonElements) + " elements");
    }
  }
  return Status::Ok();
}

Result<Json> ParseJsonObject(const Request& req, bool allow_empty) {
  std::string ct = req.Header("content-type");
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    if (allow_empty) return Json::object();
    return InvalidArgument("a JSON object body is required");
  }
  if (!IsJsonContentType(ct)) {
    return Unsupported("Content-Type must be application/json, got '" + ct.substr(0, 64) + "'");
  }
  OXIDE_RETURN_IF_ERROR(CheckJsonShape(req.body));
  Json j = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Corrupt("request body is not valid JSON");
  if (!j.is_object()) return InvalidArgument("request body must be a JSON object");
  return j;
}

Result<std::string> RequiredString(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return InvalidArgument(std::string("field '") + key + "' is required");
  }
  if (!it->is_string()) return InvalidArgument(std::string("field '") + key + "' must be a string");
  return it->get<std::string>();
}

Result<std::optional<std::string>> OptionalString(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return InvalidArgument(std::string("field '") + key + "' must be a string");
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::optional<uint32_t>> OptionalU32(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<uint32_t>();
  if (!it->is_number_integer() || it->get<int64_t>() < 0 ||
      it->get<int64_t>() > int64_t{UINT32_MAX}) {
    return InvalidArgument(std::string("field '") + key + "' must be a non-negative integer");
  }
  return std::optional<uint32_t>(static_cast<uint32_t>(it->get<int64_t>()));
}

Result<std::map<std::string, std::string>> OptionalStringMap(const Json& j, const char* key) {
  std::map<std::string, std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) {
    return InvalidArgument(std::string("field '") + key + "' must be an object of strings");
  }
  for (auto e = it->begin(); e != it->end(); ++e) {
    if (!e->is_string()) {
      return InvalidArgument(std::string("field '") + key + "." + e.key() + "' must be a string");
    }
    out[e.key()] = e->get<std::string>();
  }
  return out;
}

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Response JsonResponse(int status, const Json& j) {
  Response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = Dump(j);
  return r;
}

Json TimeJson(store::TimeMs t) {
  if (t == 0) return nullptr;
  std::time_t secs = static_cast<std::time_t>(t / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(t % 1000));
  return std::string(buf);
}

}  // namespace oxide::server::api
