// `oxide token create|list|revoke`: operator tokens, managed over the control plane's HTTP API
// with an admin token (--token-file or OXIDE_TOKEN) against --server or OXIDE_SERVER.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/file_util.hpp"
#include "cli/commands.hpp"
#include "http_client/curl_transport.hpp"

namespace oxide::cli {
namespace {

using Json = nlohmann::json;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

Result<std::string> AdminToken(const TokenArgs& a) {
  if (!a.token_file.empty()) {
    OXIDE_ASSIGN_OR_RETURN(std::string t, ReadFileToString(a.token_file, 4096));
    return Trim(std::move(t));
  }
  const char* env = std::getenv("OXIDE_TOKEN");
  if (env != nullptr && *env != '\0') return Trim(env);
  return InvalidArgument(
      "no admin token: pass --token-file FILE (e.g. <data-dir>/admin.token) "
      "or set OXIDE_TOKEN");
}

Result<std::string> Server(const TokenArgs& a) {
  std::string url = a.server;
  if (url.empty()) {
    const char* env = std::getenv("OXIDE_SERVER");
    if (env != nullptr) url = env;
  }
  if (url.empty()) {
    return InvalidArgument(
        "no server: pass --server URL (e.g. http://127.0.0.1:8080) or set "
        "OXIDE_SERVER");
  }
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// One readable line for a refused call: the server's message, not its JSON.
Status FromReply(const HttpReply& r, const std::string& what) {
  std::string message = r.body.substr(0, 300);
  Json j = Json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const Json& e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string()) {
      message = e["message"].get<std::string>();
    } else if (j.contains("message") && j["message"].is_string()) {
      message = j["message"].get<std::string>();
    }
  }
  std::string msg = what + ": HTTP " + std::to_string(r.status) + ": " + message;
  if (r.status == 404) return NotFound(msg);
  if (r.status == 400 || r.status == 422) return InvalidArgument(msg);
  if (r.status >= 500) return Unavailable(msg);
  return FailedPrecondition(msg);  // 401, 403, 409
}

std::string Text(const Json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "-";
}

}  // namespace

Status RunToken(const TokenArgs& a) {
  OXIDE_ASSIGN_OR_RETURN(std::string server, Server(a));
  OXIDE_ASSIGN_OR_RETURN(std::string token, AdminToken(a));
  CurlGlobal curl_global;
  CurlTransport http(CurlOptions{}, nullptr);
  HeaderList auth{{"Authorization", "Bearer " + token}};
  const std::string base = server + "/api/v1/tokens";
  if (a.action == "create") {
    Json body{{"name", a.name}, {"role", a.role}};
    OXIDE_ASSIGN_OR_RETURN(auto r, http.Send(HttpCall{"POST", base, body.dump(), auth}));
    if (r.status != 201) return FromReply(r, "create token");
    Json j = Json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("token")) return Corrupt("create token: unexpected reply");
    // The token alone on stdout (T=$(oxide token create ...)); what it is on stderr.
    std::fprintf(stderr, "created token %s (name %s, role %s); it is shown only once\n",
                 Text(j, "id").c_str(), Text(j, "name").c_str(), Text(j, "role").c_str());
    std::printf("%s\n", j["token"].get<std::string>().c_str());
    return Status::Ok();
  }
  if (a.action == "list") {
    OXIDE_ASSIGN_OR_RETURN(auto r, http.Send(HttpCall{"GET", base, "", auth}));
    if (r.status != 200) return FromReply(r, "list tokens");
    Json j = Json::parse(r.body, nullptr, false);
    if (!j.is_array()) return Corrupt("list tokens: unexpected reply");
    std::printf("%-16s  %-20s  %-6s  %-24s  %-24s  %s\n", "ID", "NAME", "ROLE", "CREATED",
                "LAST USED", "REVOKED");
    for (const Json& t : j) {
      std::printf("%-16s  %-20s  %-6s  %-24s  %-24s  %s\n", Text(t, "id").c_str(),
                  Text(t, "name").c_str(), Text(t, "role").c_str(), Text(t, "created_at").c_str(),
                  Text(t, "last_used").c_str(), Text(t, "revoked_at").c_str());
    }
    return Status::Ok();
  }
  OXIDE_ASSIGN_OR_RETURN(auto r, http.Send(HttpCall{"DELETE", base + "/" + a.id, "", auth}));
  if (r.status != 200) return FromReply(r, "revoke token " + a.id);
  std::printf("revoked %s\n", a.id.c_str());
  return Status::Ok();
}

}  // namespace oxide::cli
