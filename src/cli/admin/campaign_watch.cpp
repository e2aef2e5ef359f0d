// `oxide campaign watch ID`: follows a campaign until it ends. Live through the event stream
// (GET /api/v1/events?campaign=ID, docs/api.md): each event for the campaign marks the view
// stale, and the detail is re-fetched at most every 250 ms. When the server has no event stream
// (404) the watch polls every 2 s instead; when the stream drops, it polls once and reconnects
// with Last-Event-ID (and the stream id, so a restarted server is noticed as a gap).
#include <nlohmann/json.hpp>

#include "cli/admin/admin_commands.hpp"
#include "cli/admin/campaign_view.hpp"
#include "http_client/sse_client.hpp"

namespace oxide::cli::admin {
namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;

constexpr milliseconds kDebounce{250};
constexpr milliseconds kPollInterval{2000};
// Even with events, a fresh look now and then: an event lost in a server's queue overflow
// costs at most this long.
constexpr milliseconds kRefreshEvery{30000};

class Watch {
 public:
  Watch(std::string id, AdminContext& ctx) : id_(std::move(id)), ctx_(ctx), view_(ctx.console) {}

  Result<int> Run() {
    OXIDE_ASSIGN_OR_RETURN(int code, Fetch());
    while (code < 0) {
      if (events_) {
        OXIDE_ASSIGN_OR_RETURN(code, Stream());
        if (code >= 0) break;
      }
      if (!ctx_.clock.SleepFor(kPollInterval)) return Cancelled("interrupted");
      OXIDE_ASSIGN_OR_RETURN(code, Fetch());
    }
    return code;
  }

 private:
  // Shows the campaign; its exit code once it ended, else -1.
  Result<int> Fetch() {
    last_fetch_ = ctx_.clock.Now();
    stale_ = false;
    OXIDE_ASSIGN_OR_RETURN(Json c, ctx_.client.Get("/api/v1/campaigns/" + PathEscape(id_)));
    view_.Show(c);
    return ExitCodeForCampaignState(Str(c, "state"));
  }

  // Re-fetches when the view is stale and the debounce allows; ends the stream (kCancelled)
  // once the campaign ended or a fetch failed.
  Status MaybeFetch() {
    auto since = ctx_.clock.Now() - last_fetch_;
    if (!(stale_ && since >= kDebounce) && since < kRefreshEvery) return Status::Ok();
    Result<int> r = Fetch();
    if (!r.ok()) {
      fetch_error_ = r.status();
      return Cancelled("fetch failed");
    }
    if (*r >= 0) {
      ended_ = *r;
      return Cancelled("campaign ended");
    }
    return Status::Ok();
  }

  // One connection of the event stream; -1 when it ended without the campaign ending.
  Result<int> Stream() {
    SseRequest req;
    req.url = ctx_.client.server() + "/api/v1/events?campaign=" + PathEscape(id_);
    if (!stream_id_.empty()) req.url += "&stream_id=" + PathEscape(stream_id_);
    req.headers = ctx_.client.AuthHeaders();
    req.last_event_id = last_event_id_;
    req.on_tick = [this] { return MaybeFetch(); };
    auto on_event = [this](const SseEvent& e) -> Status {
      if (e.type == "hello") {
        Json h = Json::parse(e.data, nullptr, false);
        if (h.is_object() && h.contains("stream_id") && h["stream_id"].is_string()) {
          stream_id_ = h["stream_id"].get<std::string>();
        }
        return Status::Ok();
      }
      stale_ = true;  // campaign.*, or reset: whatever it was, the detail shows it
      return MaybeFetch();
    };
    Result<SseResult> r = StreamEvents(ctx_.client.downloader(), req, on_event, &last_event_id_);
    if (ended_ >= 0) return ended_;
    OXIDE_RETURN_IF_ERROR(fetch_error_);
    if (r.ok() && r->status == 404) {
      events_ = false;  // a server without the event stream: poll from now on
    } else if (r.ok() && (r->status == 401 || r->status == 403)) {
      return ErrorFromReply(r->status, r->error_body);
    }
    return -1;  // dropped or refused for now: poll once, then reconnect
  }

  std::string id_;
  AdminContext& ctx_;
  CampaignWatchView view_;
  bool events_ = true;
  bool stale_ = false;
  int ended_ = -1;
  Status fetch_error_;
  Clock::Duration last_fetch_{};
  std::string last_event_id_;
  std::string stream_id_;
};

}  // namespace

int ExitCodeForCampaignState(const std::string& state) {
  if (state == "completed") return 0;
  if (state == "completed_with_failures") return kExitCampaignCompletedWithFailures;
  if (state == "failed") return kExitCampaignFailed;
  if (state == "halted") return kExitCampaignHalted;
  if (state == "aborted") return kExitCampaignAborted;
  return -1;
}

Result<int> WatchCampaign(const std::string& id, AdminContext& ctx) { return Watch(id, ctx).Run(); }

}  // namespace oxide::cli::admin
