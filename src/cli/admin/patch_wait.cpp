// `oxide model push` waiting for the patches its upload queued. GET …/meta carries the whole
// tensor manifest (megabytes for a large model), so it is not polled in a tight loop: the wait
// follows the event stream (GET /api/v1/events?types=patch) and re-reads the meta only when a
// `patch.built` / `patch.failed` for this version arrives (or the stream reports a gap). Without
// an event stream (404, not an event stream, dropped) it polls with backoff: 0.5 s, doubling to
// 5 s between reads.
#include "cli/admin/patch_wait.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "http_client/sse_client.hpp"

namespace oxide::cli::admin {
namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;

constexpr milliseconds kFirstBackoff{500};
constexpr milliseconds kMaxBackoff{5000};
// Several patches built back to back re-read the meta once.
constexpr milliseconds kDebounce{250};

bool AllBuilt(const Json& meta) {
  if (!meta.contains("patches") || !meta["patches"].is_array()) return true;
  for (const Json& p : meta["patches"]) {
    if (Str(p, "state") == "pending") return false;
  }
  return true;
}

class PatchWait {
 public:
  PatchWait(const AdminArgs& a, AdminContext& ctx, Json& meta)
      : a_(a),
        ctx_(ctx),
        meta_(meta),
        path_("/api/v1/models/" + PathEscape(a.model) + "/versions/" + PathEscape(a.version) +
              "/meta"),
        deadline_(ctx.clock.Now() + std::chrono::seconds(a.wait_seconds)) {}

  // OK with *waited_out when the deadline passed with patches still pending.
  Status Run(bool* waited_out) {
    *waited_out = false;
    milliseconds backoff = kFirstBackoff;
    while (!AllBuilt(meta_)) {
      if (events_) {
        Result<bool> r = Stream();
        OXIDE_RETURN_IF_ERROR(r.status());
        if (*r) break;  // the stream saw it through (built, or the deadline passed)
      }
      auto now = ctx_.clock.Now();
      if (now >= deadline_) break;
      auto left = std::chrono::duration_cast<milliseconds>(deadline_ - now);
      if (!ctx_.clock.SleepFor(std::min(backoff, left))) return Cancelled("interrupted");
      backoff = std::min(backoff * 2, kMaxBackoff);
      OXIDE_RETURN_IF_ERROR(Fetch());
    }
    *waited_out = !AllBuilt(meta_);
    return Status::Ok();
  }

 private:
  Status Fetch() {
    last_fetch_ = ctx_.clock.Now();
    stale_ = false;
    OXIDE_ASSIGN_OR_RETURN(meta_, ctx_.client.Get<Json>(path_));
    return Status::Ok();
  }

  // Between events and on the stream's ticks: re-reads when stale (debounced); ends the stream
  // (kCancelled) when everything is built, the deadline passed or a read failed.
  Status Tick() {
    if (ctx_.clock.Now() >= deadline_) return Cancelled("deadline");
    if (!stale_ || ctx_.clock.Now() - last_fetch_ < kDebounce) return Status::Ok();
    if (Status s = Fetch(); !s.ok()) {
      fetch_error_ = s;
      return Cancelled("fetch failed");
    }
    return AllBuilt(meta_) ? Cancelled("built") : Status::Ok();
  }

  bool Concerns(const SseEvent& e) const {
    if (e.type == "reset") return true;  // events were lost: look again
    if (e.type != "patch.built" && e.type != "patch.failed") return false;
    Json d = Json::parse(e.data, nullptr, false);
    return d.is_object() && d.value("model_id", "") == a_.model &&
           d.value("target_version", "") == a_.version;
  }

  // One connection; true when the wait is over (built or deadline), false to poll instead.
  Result<bool> Stream() {
    SseRequest req;
    req.url = ctx_.client.server() + "/api/v1/events?types=patch";
    req.headers = ctx_.client.AuthHeaders();
    req.last_event_id = last_event_id_;
    req.on_tick = [this] { return Tick(); };
    auto on_event = [this](const SseEvent& e) -> Status {
      // The first connection's hello: a patch may have finished between the meta read and
      // now, with no event left to tell; read once more. A resumed stream replays instead.
      if (e.type == "hello") {
        if (!connected_) stale_ = true;
        connected_ = true;
        last_fetch_ = Clock::Duration{};  // no debounce for this one
      } else if (Concerns(e)) {
        stale_ = true;
      }
      return Tick();
    };
    Result<SseResult> r = StreamEvents(ctx_.client.downloader(), req, on_event, &last_event_id_);
    OXIDE_RETURN_IF_ERROR(fetch_error_);
    if (AllBuilt(meta_) || ctx_.clock.Now() >= deadline_) return true;
    if ((r.ok() && r->status == 404) || r.status().code() == ErrorCode::kUnsupported) {
      events_ = false;  // no event stream there: poll from now on
    } else if (r.ok() && (r->status == 401 || r->status == 403)) {
      return ErrorFromReply(r->status, r->error_body);
    }
    return false;  // dropped: one poll after the backoff, then reconnect
  }

  const AdminArgs& a_;
  AdminContext& ctx_;
  Json& meta_;
  std::string path_;
  Clock::Duration deadline_;
  Clock::Duration last_fetch_{};
  bool events_ = true;
  bool stale_ = false;
  bool connected_ = false;
  Status fetch_error_;
  std::string last_event_id_;
};

}  // namespace

Result<bool> WaitForPatches(const AdminArgs& a, AdminContext& ctx, Json& meta) {
  bool waited_out = false;
  OXIDE_RETURN_IF_ERROR(PatchWait(a, ctx, meta).Run(&waited_out));
  return waited_out;
}

}  // namespace oxide::cli::admin
