#include "http_client/sse_client.hpp"

namespace oxide {
namespace {

class EventSink final : public DownloadSink {
 public:
  EventSink(const SseParser::Callback& on_event, const std::function<Status()>& on_tick)
      : on_event_(on_event), on_tick_(on_tick) {}
  Status OnResponse(const HttpResponseHead& head) override {
    if (head.status < 200 || head.status > 299) return Status::Ok();
    std::string type = head.Header("content-type");
    if (type.rfind("text/event-stream", 0) != 0) {
      return Unsupported("not an event stream (Content-Type '" + type + "')");
    }
    return Status::Ok();
  }
  Status Write(const uint8_t* data, size_t n) override {
    return parser.Feed(std::string_view(reinterpret_cast<const char*>(data), n), on_event_);
  }
  Status OnTick() override { return on_tick_ ? on_tick_() : Status::Ok(); }
  SseParser parser;

 private:
  const SseParser::Callback& on_event_;
  const std::function<Status()>& on_tick_;
};

}  // namespace

Result<SseResult> StreamEvents(Downloader& downloader, const SseRequest& request,
                               const SseParser::Callback& on_event, std::string* last_event_id) {
  EventSink sink(on_event, request.on_tick);
  DownloadRequest get;
  get.url = request.url;
  get.headers = request.headers;
  get.headers.emplace_back("Accept", "text/event-stream");
  if (!request.last_event_id.empty()) {
    get.headers.emplace_back("Last-Event-ID", request.last_event_id);
  }
  Result<DownloadResult> r = downloader.Get(get, sink);
  std::string last = sink.parser.last_event_id();
  if (last.empty()) last = request.last_event_id;
  if (last_event_id != nullptr) *last_event_id = last;
  if (!r.ok()) return r.status();
  return SseResult{r->head.status, std::move(r->error_body), last};
}

}  // namespace oxide
