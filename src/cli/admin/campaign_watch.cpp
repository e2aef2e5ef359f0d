// `oxide campaign watch ID`: follows a campaign until it ends. Live through the event stream
// (GET /api/v1/events?campaign=ID, docs/api.md): each event for the campaign marks the view
// stale, and the detail is re-fetched at most every 250 ms. When the server has no event stream
// (404) the watch polls every 2 s instead; when the stream drops, it polls once and reconnects
// with Last-Event-ID (and the stream id, so a restarted server is noticed as a gap).
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/admin/admin_commands.hpp"
#include "cli/admin/table.hpp"
#include "http_client/sse_client.hpp"

namespace oxide::cli::admin {
namespace {

using Json = nlohmann::json;

// The campaign views (`campaign show` and `campaign watch`) share these.
std::string Progress(const Json& d) {
  std::string state = Str(d, "state");
  uint64_t done = U64(d, "bytes_done"), total = U64(d, "bytes_total");
  if (state == "completed") return "100%";
  if (state != "downloading" || total == 0) return "-";
  return std::to_string(done * 100 / total) + "% of " + HumanSize(total);
}

std::string DeviceTable(const Json& c) {
  Table t({"DEVICE", "STATE", "STATUS", "PROGRESS", "ERROR"});
  for (const Json& d : c.value("devices", Json::array())) {
    t.AddRow(
        {Str(d, "device_id"), Str(d, "state"), Str(d, "status"), Progress(d), Str(d, "error")});
  }
  return t.Render();
}

// One line: "c-…  mnist v2  rolling_out  1/3 completed  0 failed  7.0 KiB sent (99.7% saved)".
std::string CampaignSummaryLine(const Json& c) {
  const Json s = c.value("summary", Json::object());
  uint64_t served = U64(s, "bytes_served");
  std::string line = Str(c, "id") + "  " + Str(c, "model_id") + " " + Str(c, "target_version") +
                     "  " + Str(c, "state") + "  " + std::to_string(U64(s, "complete")) + "/" +
                     std::to_string(U64(s, "total")) + " completed  " +
                     std::to_string(U64(s, "failures")) + " failed";
  if (served > 0) {
    line += "  " + HumanSize(served) + " sent (" +
            SavedPercent(served, U64(s, "bytes_full_equivalent")) + " saved)";
  }
  return line;
}

// `campaign show`: settings, counts, bandwidth, first failure and a table of the devices.
std::string RenderCampaignDetail(const Json& c) {
  const Json s = c.value("summary", Json::object());
  std::string target = Str(c, "fleet_id");
  if (c.contains("target") && c["target"].is_object() && !c["target"].empty()) {
    target += " " + c["target"].dump();
  }
  std::string strategy = Str(c, "strategy");
  if (strategy == "canary") strategy += " " + Str(c, "canary_percent") + "%";
  if (strategy == "rolling") strategy += ", batches of " + Str(c, "batch_size");
  std::string out;
  auto row = [&](const char* k, const std::string& v) { out += std::string(k) + v + "\n"; };
  row("id:          ", Str(c, "id"));
  row("model:       ", Str(c, "model_id") + " " + Str(c, "target_version") + " (" +
                           HumanSize(U64(c, "target_size")) + ")");
  row("target:      ", target);
  row("strategy:    ", strategy);
  row("thresholds:  ", Str(c, "failure_threshold_count") + " devices, " +
                           Str(c, "failure_threshold_percent") + "% (0 = off)");
  row("state:       ", Str(c, "state"));
  if (Str(c, "require_approval") == "yes") {
    row("approval:    ", Str(c, "approved_at") == "-"
                             ? "required after the canary wave (oxide campaign approve)"
                             : "approved " + ShortTime(Str(c, "approved_at")));
  }
  row("created:     ", ShortTime(Str(c, "created_at")));
  row("devices:     ", std::to_string(U64(s, "total")) + " total, " +
                           std::to_string(U64(s, "complete")) + " completed, " +
                           std::to_string(U64(s, "in_progress")) + " in progress, " +
                           std::to_string(U64(s, "waiting") + U64(s, "pending")) + " waiting, " +
                           std::to_string(U64(s, "failures")) + " failed");
  row("sent:        ", HumanSize(U64(s, "bytes_served")) + " (full files " +
                           HumanSize(U64(s, "bytes_full_equivalent")) + ", " +
                           SavedPercent(U64(s, "bytes_served"), U64(s, "bytes_full_equivalent")) +
                           " saved)");
  if (c.contains("first_failure") && c["first_failure"].is_object()) {
    const Json& f = c["first_failure"];
    row("first error: ", Str(f, "device_id") + ": " + Str(f, "error"));
  }
  return out + "\n" + DeviceTable(c);
}

// What `campaign watch` prints for each new detail. On a terminal (console.out_is_tty) it
// redraws the summary and the device table in place; otherwise it prints one line per change:
// the summary when it changed, a device when its state or error changed or its download moved
// by another 10 %.
class CampaignWatchView {
 public:
  explicit CampaignWatchView(const Console& console) : console_(console) {}
  void Show(const Json& campaign);

 private:
  const Console& console_;
  int drawn_lines_ = 0;                         // terminal: lines to move up before redrawing
  std::string last_summary_;                    // lines mode
  std::map<std::string, std::string> devices_;  // lines mode: device → its last printed key
};

void CampaignWatchView::Show(const Json& c) {
  if (console_.out_is_tty) {
    std::string block = CampaignSummaryLine(c) + "\n" + DeviceTable(c);
    if (drawn_lines_ > 0) std::fprintf(console_.out, "\x1b[%dA\x1b[J", drawn_lines_);
    drawn_lines_ = static_cast<int>(std::count(block.begin(), block.end(), '\n'));
    Print(console_, block);
    return;
  }
  std::string out;
  std::string summary = CampaignSummaryLine(c);
  if (summary != last_summary_) out += summary + "\n";
  last_summary_ = summary;
  for (const Json& d : c.value("devices", Json::array())) {
    std::string state = Str(d, "state");
    uint64_t total = U64(d, "bytes_total");
    std::string step = state == "downloading" && total > 0
                           ? std::to_string(U64(d, "bytes_done") * 10 / total)
                           : std::string();
    std::string key = state + "|" + step + "|" + Str(d, "error");
    std::string& last = devices_[Str(d, "device_id")];
    if (key == last) continue;
    last = key;
    std::string line = "  " + Str(d, "device_id") + "  " + state;
    if (state == "downloading" && total > 0) line += "  " + Progress(d);
    if (Str(d, "error") != "-") line += "  " + Str(d, "error");
    out += line + "\n";
  }
  if (!out.empty()) Print(console_, out);
}

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
    OXIDE_ASSIGN_OR_RETURN(Json c, ctx_.client.Get<Json>("/api/v1/campaigns/" + PathEscape(id_)));
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
    if ((r.ok() && r->status == 404) || r.status().code() == ErrorCode::kUnsupported) {
      events_ = false;  // no event stream there (or not one we read): poll from now on
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

Status ShowCampaign(const std::string& id, AdminContext& ctx) {
  OXIDE_ASSIGN_OR_RETURN(Json c, ctx.client.Get<Json>("/api/v1/campaigns/" + PathEscape(id)));
  if (ctx.console.json) {
    PrintJson(ctx.console, c);
  } else {
    Print(ctx.console, RenderCampaignDetail(c));
  }
  return Status::Ok();
}

}  // namespace oxide::cli::admin
