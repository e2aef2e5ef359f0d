#include "server/net/request_framing.hpp"

#include <string>

#include "server/api/errors.hpp"

namespace oxide::server::net {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsNamed(std::string_view name, std::string_view lower) { return Lower(name) == lower; }

}  // namespace

api::Method MethodFromString(std::string_view m) {
  if (m == "GET") return api::Method::kGet;
  if (m == "HEAD") return api::Method::kHead;
  if (m == "POST") return api::Method::kPost;
  if (m == "PUT") return api::Method::kPut;
  if (m == "DELETE") return api::Method::kDelete;
  return api::Method::kOther;
}

Status CheckTransferEncoding(const HeaderFields& fields) {
  std::vector<std::string> codings;
  bool has_te = false;
  bool has_length = false;
  for (const auto& [name, value] : fields) {
    if (IsNamed(name, "content-length")) has_length = true;
    if (!IsNamed(name, "transfer-encoding")) continue;
    has_te = true;
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      if (comma == std::string_view::npos) comma = value.size();
      std::string_view item = Trim(value.substr(start, comma - start));
      // Parameters (";q=...") belong to the coding; the name decides.
      item = Trim(item.substr(0, item.find(';')));
      if (!item.empty()) codings.push_back(Lower(item));
      start = comma + 1;
    }
  }
  if (codings.empty()) return has_te ? Corrupt("empty Transfer-Encoding") : Status::Ok();
  for (const auto& c : codings) {
    if (c != "chunked") {
      return Status(ErrorCode::kUnsupported,
                    "Transfer-Encoding '" + c.substr(0, 64) + "' is not implemented");
    }
  }
  if (codings.size() > 1) return Corrupt("chunked may be applied only once");
  if (has_length) return Corrupt("both Transfer-Encoding and Content-Length");
  return Status::Ok();
}

void FillRequest(std::string_view method, std::string_view target, const HeaderFields& fields,
                 api::Request* out) {
  out->method = MethodFromString(method);
  size_t q = target.find('?');
  out->path = std::string(target.substr(0, q));
  out->query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
  out->headers.clear();
  for (const auto& [name, value] : fields) out->headers.emplace_back(Lower(name), value);
}

api::Response FramingErrorResponse(const Status& st) {
  api::Response r = api::ErrorResponse(st);
  if (st.code() == ErrorCode::kUnsupported) r.status = 501;  // RFC 9112 6.1: unknown coding
  return r;
}

}  // namespace oxide::server::net
