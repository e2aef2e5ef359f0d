#include "cli/admin/admin_client.hpp"

#include <nlohmann/json.hpp>

namespace oxide::cli::admin {
namespace {

using Json = nlohmann::json;

std::string TrimLine(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Result<AdminConfig> ResolveAdminConfig(
    const AdminFlags& flags, const std::map<std::string, std::string>& config_file,
    const std::function<std::string(const char*)>& env,
    const std::function<Result<std::string>(const std::string&)>& read_file) {
  auto from_file = [&](const char* key) {
    auto it = config_file.find(key);
    return it == config_file.end() ? std::string() : it->second;
  };
  AdminConfig c;
  c.server = flags.server;
  if (c.server.empty()) c.server = env("OXIDE_SERVER");
  if (c.server.empty()) c.server = from_file("server");
  if (c.server.empty()) {
    return InvalidArgument(
        "no server: pass --server URL (e.g. http://127.0.0.1:8080), set OXIDE_SERVER or "
        "'server' in the config file");
  }
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  c.ca_file = flags.ca_file.empty() ? from_file("ca_file") : flags.ca_file;
  std::string token_file = flags.token_file;
  if (token_file.empty()) {
    c.token = TrimLine(env("OXIDE_TOKEN"));
    if (c.token.empty()) token_file = from_file("token_file");
  }
  if (!token_file.empty()) {
    OXIDE_ASSIGN_OR_RETURN(std::string t, read_file(token_file));
    c.token = TrimLine(std::move(t));
  }
  if (c.token.empty()) {
    return InvalidArgument(
        "no token: pass --token-file FILE (e.g. <data-dir>/admin.token), set OXIDE_TOKEN or "
        "'token_file' in the config file");
  }
  return c;
}

Status ErrorFromReply(int status, std::string_view body) {
  std::string message;
  Json j = Json::parse(body, nullptr, false);
  if (j.is_object()) {
    auto e = j.find("error");
    auto m = j.find("message");
    if (e != j.end() && e->is_object() && e->contains("message") && (*e)["message"].is_string()) {
      message = (*e)["message"].get<std::string>();  // {"error":{"code","message"}}
    } else if (m != j.end() && m->is_string()) {
      message = m->get<std::string>();  // auth refusals: {"error":"forbidden","message"}
    }
  }
  if (message.empty()) message = TrimLine(std::string(body.substr(0, 200)));
  if (message.empty()) message = "(no message)";
  std::string line = std::to_string(status) + ": " + message;
  if (status == 404) return NotFound(line);
  if (status == 400 || status == 422) return InvalidArgument(line);
  if (status >= 500) return Unavailable(line);
  return FailedPrecondition(line);
}

std::string PathEscape(std::string_view id) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : id) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<std::string> AdminClient::Check(const Result<HttpReply>& reply) {
  if (!reply.ok()) {
    return Unavailable("cannot reach " + config_.server + ": " + reply.status().message());
  }
  if (reply->status < 200 || reply->status > 299) return ErrorFromReply(reply->status, reply->body);
  return reply->body;
}

Result<std::string> AdminClient::GetBody(const std::string& path) {
  return Check(http_.Send(HttpCall{"GET", config_.server + path, "", AuthHeaders()}));
}

Result<std::string> AdminClient::PostBody(const std::string& path, const std::string& json) {
  return Check(http_.Send(HttpCall{"POST", config_.server + path, json, AuthHeaders()}));
}

Result<std::string> AdminClient::PutBody(const std::string& path, const std::string& json) {
  return Check(http_.Send(HttpCall{"PUT", config_.server + path, json, AuthHeaders()}));
}

Result<std::string> AdminClient::DeleteBody(const std::string& path) {
  return Check(http_.Send(HttpCall{"DELETE", config_.server + path, "", AuthHeaders()}));
}

Result<std::string> AdminClient::PostFileBody(const std::string& path, const std::string& file,
                                              std::function<void(uint64_t, uint64_t)> progress) {
  UploadRequest up;
  up.url = config_.server + path;
  up.file_path = file;
  up.headers = AuthHeaders();
  up.on_progress = std::move(progress);
  Result<HttpReply> reply = uploader_.Upload(up);
  if (!reply.ok() && reply.status().code() != ErrorCode::kUnavailable) return reply.status();
  return Check(reply);
}

Result<std::string> AdminClient::PutFileBody(const std::string& path, const std::string& file) {
  UploadRequest up;
  up.method = "PUT";
  up.url = config_.server + path;
  up.file_path = file;
  up.headers = AuthHeaders();
  Result<HttpReply> reply = uploader_.Upload(up);
  if (!reply.ok() && reply.status().code() != ErrorCode::kUnavailable) return reply.status();
  return Check(reply);
}

}  // namespace oxide::cli::admin
