#include "server/net/request_reader.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <utility>  // P1: before asio

#include "server/api/errors.hpp"
#include "server/net/request_framing.hpp"

namespace oxide::server::net {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using Kind = ReadRequestResult::Kind;

ReadRequestResult Rejected(api::Response r) {
  ReadRequestResult out;
  out.kind = Kind::kRejected;
  out.reject = std::move(r);
  return out;
}

// Feeds `parser` from bytes[*used...] until `done(parser)`. need_more with every byte given
// means the request is incomplete.
template <class Parser, class Done>
boost::beast::error_code Feed(Parser& parser, std::string_view bytes, size_t* used, Done done) {
  boost::beast::error_code ec;
  while (!done(parser)) {
    size_t n = parser.put(asio::buffer(bytes.data() + *used, bytes.size() - *used), ec);
    *used += n;
    if (ec) return ec;
    if (n == 0) return http::error::need_more;
  }
  return ec;
}

}  // namespace

ReadRequestResult ReadRequest(std::string_view bytes, const api::Router& router,
                              uint32_t header_limit) {
  http::request_parser<http::empty_body> head;
  head.header_limit(header_limit);
  head.body_limit(std::numeric_limits<std::uint64_t>::max());
  size_t used = 0;
  auto ec = Feed(head, bytes, &used, [](auto& p) { return p.is_header_done(); });
  if (ec == http::error::need_more) return {};
  if (ec == http::error::header_limit) {
    return Rejected(api::TooLargeResponse("header too large", 431));
  }
  if (ec) return Rejected(api::ErrorResponse(Corrupt("malformed HTTP request: " + ec.message())));

  const auto& h = head.get();
  HeaderFields fields;
  for (const auto& f : h) fields.emplace_back(f.name_string(), f.value());
  if (Status te = CheckTransferEncoding(fields); !te.ok()) {
    return Rejected(FramingErrorResponse(te));
  }
  ReadRequestResult out;
  FillRequest(h.method_string(), h.target(), fields, &out.request);
  auto policy = router.PolicyFor(out.request);
  if (policy.refusal) return Rejected(std::move(*policy.refusal));  // as a session: no body read
  auto length = head.content_length();
  if (length && *length > policy.max_bytes) {
    return Rejected(api::TooLargeResponse("request body exceeds the limit"));
  }
  if (!policy.precheck.ok()) return Rejected(api::ErrorResponse(policy.precheck));

  http::request_parser<http::string_body> body(std::move(head));
  body.body_limit(policy.max_bytes);
  ec = Feed(body, bytes, &used, [](auto& p) { return p.is_done(); });
  if (ec == http::error::need_more) return {};
  if (ec == http::error::body_limit) {
    return Rejected(api::TooLargeResponse("body exceeds the limit"));
  }
  if (ec) return Rejected(api::ErrorResponse(Corrupt("malformed request body: " + ec.message())));
  out.request.body = std::move(body.get().body());
  out.kind = Kind::kRequest;
  return out;
}

}  // namespace oxide::server::net
