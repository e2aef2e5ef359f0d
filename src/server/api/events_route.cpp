#include "server/api/events_route.hpp"

#include <charconv>

#include "protocol/ids.hpp"
#include "server/api/errors.hpp"
#include "server/api/internal/json_util.hpp"

namespace oxide::server::api {
namespace {

class EventStreamBody final : public StreamBody {
 public:
  EventStreamBody(std::unique_ptr<EventSubscription> sub, std::string preface,
                  std::chrono::milliseconds keepalive, std::function<bool()> still_authorized)
      : sub_(std::move(sub)),
        preface_(std::move(preface)),
        keepalive_(keepalive),
        still_authorized_(std::move(still_authorized)),
        checked_at_(std::chrono::steady_clock::now()) {}

  void Start(std::function<void()> wake) override { sub_->SetWake(std::move(wake)); }

  bool Read(std::string* out) override {
    if (!Authorized()) return false;  // revoked: end the stream, hand over nothing more
    out->append(preface_);
    preface_.clear();
    auto batch = sub_->Take();
    for (const auto& e : batch.events) {
      out->append("id: ").append(std::to_string(e->id));
      out->append("\nevent: ").append(ToString(e->type));
      out->append("\ndata: ").append(e->data).append("\n\n");
    }
    return !batch.dropped;
  }

  bool Over() const override { return sub_->dropped(); }
  std::string Keepalive() const override { return ": keepalive\n\n"; }
  std::chrono::milliseconds keepalive_interval() const override { return keepalive_; }

 private:
  // The token was checked when the stream opened; it is checked again at most once per
  // keepalive interval, so a revocation ends the stream within that time.
  bool Authorized() {
    if (!still_authorized_ || revoked_) return !revoked_;
    const auto now = std::chrono::steady_clock::now();
    if (now - checked_at_ < keepalive_) return true;
    checked_at_ = now;
    revoked_ = !still_authorized_();
    return !revoked_;
  }

  std::unique_ptr<EventSubscription> sub_;
  std::string preface_;  // hello (and reset), sent by the first Read
  std::chrono::milliseconds keepalive_;
  std::function<bool()> still_authorized_;
  std::chrono::steady_clock::time_point checked_at_;
  bool revoked_ = false;
};

// %XX escapes of a query value (commas in ?types= may arrive as %2C); '+' is a space.
std::string Unescape(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    unsigned value = 0;
    if (v[i] == '%' && i + 2 < v.size() &&
        std::from_chars(v.data() + i + 1, v.data() + i + 3, value, 16).ptr == v.data() + i + 3) {
      out.push_back(static_cast<char>(value));
      i += 2;
    } else {
      out.push_back(v[i] == '+' ? ' ' : v[i]);
    }
  }
  return out;
}

Result<uint64_t> ParseEventId(std::string_view v) {
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), id);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
    return InvalidArgument("last event id must be a decimal integer");
  }
  return id;
}

// ?types=campaign,device.changed: each entry must start at least one event type's name.
Result<std::vector<std::string>> ParseTypes(const std::string& v) {
  std::vector<std::string> out;
  std::string_view rest = v;
  while (true) {
    std::string_view t = rest.substr(0, rest.find(','));
    bool known = false;
    for (EventType type : kAllEventTypes) {
      known = known || (!t.empty() && ToString(type).substr(0, t.size()) == t);
    }
    if (!known) {
      return InvalidArgument("unknown event type '" + std::string(t) +
                             "' in types (device, campaign, patch or a full type name)");
    }
    out.emplace_back(t);
    if (t.size() == rest.size()) return out;
    rest.remove_prefix(t.size() + 1);
  }
}

Result<EventBus::SubscribeOptions> ParseOptions(const Request& req) {
  EventBus::SubscribeOptions o;
  std::string_view q = req.query;
  while (!q.empty()) {
    std::string_view pair = q.substr(0, q.find('&'));
    q.remove_prefix(std::min(q.size(), pair.size() + 1));
    const size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string value = eq == std::string_view::npos ? "" : Unescape(pair.substr(eq + 1));
    if (key == "last_event_id") {
      OXIDE_ASSIGN_OR_RETURN(o.last_event_id, ParseEventId(value));
    } else if (key == "stream_id") {
      o.stream_id = value;
    } else if (key == "types") {
      OXIDE_ASSIGN_OR_RETURN(o.filter.type_prefixes, ParseTypes(value));
    } else if (key == "campaign" || key == "device") {
      if (!protocol::IsValidId(value)) {
        return InvalidArgument("'" + std::string(key) + "' must be a valid id");
      }
      (key == "campaign" ? o.filter.campaign_id : o.filter.device_id) = value;
    }
  }
  // The browser's EventSource sends the header on reconnect; it wins over the query.
  const std::string header = req.Header("last-event-id");
  if (!header.empty()) {
    OXIDE_ASSIGN_OR_RETURN(o.last_event_id, ParseEventId(header));
  }
  return o;
}

Response Events(const ApiDeps& d, const Request& req) {
  auto options = ParseOptions(req);
  if (!options.ok()) return ErrorResponse(options.status());
  options->owner = req.principal.id;
  auto sub = d.events->Subscribe(std::move(options).value());
  if (!sub.ok()) {
    // kUnavailable: 503 {"error":{"code":"unavailable","message":…}} like every other error.
    Response r = ErrorResponse(sub.status());
    r.headers.emplace_back("Retry-After", "5");
    return r;
  }
  Response r;
  r.headers.emplace_back("Content-Type", "text/event-stream");
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Accel-Buffering", "no");  // reverse proxies: do not buffer
  // Only the credential is kept to re-check it, not the whole request.
  Request credential;
  credential.headers.emplace_back("authorization", req.Header("authorization"));
  const auth::Authenticator* authn = &d.authenticator;
  auto still_authorized = [authn, credential = std::move(credential)] {
    auto outcome = authn->Authenticate(credential);
    // A store error ends the stream too (it never fails open); the client resumes.
    return outcome.ok() && outcome->failure == auth::AuthFailure::kNone &&
           outcome->principal.is_operator();
  };
  r.stream = MakeEventStreamBody(std::move(sub).value(), d.events->stream_id(), d.event_keepalive,
                                 std::move(still_authorized));
  return r;
}

}  // namespace

std::shared_ptr<StreamBody> MakeEventStreamBody(std::unique_ptr<EventSubscription> sub,
                                                const std::string& stream_id,
                                                std::chrono::milliseconds keepalive,
                                                std::function<bool()> still_authorized) {
  std::string preface = "event: hello\ndata: " +
                        Dump(Json{{"stream_id", stream_id}, {"last_event_id", sub->start_id()}}) +
                        "\n\n";
  if (sub->gap()) preface += "event: reset\ndata: {\"reason\":\"gap\"}\n\n";
  return std::make_shared<EventStreamBody>(std::move(sub), std::move(preface), keepalive,
                                           std::move(still_authorized));
}

void AddEventRoutes(const ApiDeps& d, std::vector<Route>* routes) {
  const ApiDeps* dp = &d;
  Route r{Method::kGet, "/api/v1/events",
          [dp](const Request& req, const Params&) { return Events(*dp, req); }};
  r.access = Access::kViewer;
  routes->push_back(std::move(r));
}

}  // namespace oxide::server::api
