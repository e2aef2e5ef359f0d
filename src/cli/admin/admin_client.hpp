#pragma once

#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "cli/admin/admin_args.hpp"
#include "http_client/http.hpp"

namespace oxide::cli::admin {

// Server URL, token and CA bundle after flags, environment and config file were applied.
struct AdminConfig {
  std::string server;  // no trailing '/'
  std::string token;
  std::string ca_file;
};

// Precedence: flag > environment (OXIDE_SERVER; OXIDE_TOKEN holds the token itself) > config
// file keys (`server`, `token_file`, `ca_file`). `env` returns "" for an unset variable;
// `read_file` reads a token file. kInvalidArgument names what is missing.
Result<AdminConfig> ResolveAdminConfig(
    const AdminFlags& flags, const std::map<std::string, std::string>& config_file,
    const std::function<std::string(const char*)>& env,
    const std::function<Result<std::string>(const std::string&)>& read_file);

// The one line a refused call prints (after "oxide: "): "<http status>: <server message>",
// with an error code that gives the exit code: 404 kNotFound, 400/422 kInvalidArgument,
// 401/403/409 kFailedPrecondition, 5xx kUnavailable, others kFailedPrecondition.
Status ErrorFromReply(int status, std::string_view body);

// JSON calls to the control plane as one operator. Paths start with "/api/v1/". Each *Body call
// returns the body of a 2xx answer, ErrorFromReply otherwise, kUnavailable when the server
// cannot be reached. The templates parse that body as `Json` (nlohmann::json at the call site,
// so this header needs no JSON library): kCorrupt when it is not JSON. The seams must outlive
// the client.
class AdminClient {
 public:
  AdminClient(AdminConfig config, HttpClient& http, Downloader& downloader, Uploader& uploader)
      : config_(std::move(config)), http_(http), downloader_(downloader), uploader_(uploader) {}

  Result<std::string> GetBody(const std::string& path);
  Result<std::string> PostBody(const std::string& path, const std::string& json);
  Result<std::string> PutBody(const std::string& path, const std::string& json);
  Result<std::string> DeleteBody(const std::string& path);
  // Streams `file` as the body of POST `path`; `progress(sent, total)` may be empty.
  Result<std::string> PostFileBody(const std::string& path, const std::string& file,
                                   std::function<void(uint64_t, uint64_t)> progress);
  // The same with PUT (golden files).
  Result<std::string> PutFileBody(const std::string& path, const std::string& file);

  template <class Json>
  Result<Json> Get(const std::string& path) {
    return Parse<Json>(GetBody(path));
  }
  template <class Json>
  Result<Json> Post(const std::string& path, const Json& body) {
    return Parse<Json>(PostBody(path, body.dump()));
  }
  template <class Json>
  Result<Json> Put(const std::string& path, const Json& body) {
    return Parse<Json>(PutBody(path, body.dump()));
  }
  template <class Json>
  Result<Json> Delete(const std::string& path) {
    return Parse<Json>(DeleteBody(path));
  }
  template <class Json>
  static Result<Json> Parse(const Result<std::string>& body) {
    if (!body.ok()) return body.status();
    if (body->empty()) return Json::object();
    Json j = Json::parse(*body, nullptr, false);
    if (j.is_discarded()) return Corrupt("the server's answer is not JSON");
    return j;
  }

  const std::string& server() const { return config_.server; }
  HeaderList AuthHeaders() const { return {{"Authorization", "Bearer " + config_.token}}; }
  Downloader& downloader() { return downloader_; }

 private:
  Result<std::string> Check(const Result<HttpReply>& reply);

  AdminConfig config_;
  HttpClient& http_;
  Downloader& downloader_;
  Uploader& uploader_;
};

// Where a command prints. Tests pass memory streams and say whether they are terminals.
struct Console {
  std::FILE* out = stdout;
  std::FILE* err = stderr;
  bool out_is_tty = false;
  bool err_is_tty = false;
  bool json = false;  // --json
};

// "/api/v1/devices/" + id, with the id percent-encoded (ids are checked by the server).
std::string PathEscape(std::string_view id);

}  // namespace oxide::cli::admin
