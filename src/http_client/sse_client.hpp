#pragma once

#include <functional>
#include <string>

#include "http_client/http.hpp"
#include "http_client/sse_parser.hpp"

namespace oxide {

struct SseRequest {
  std::string url;
  HeaderList headers;         // Authorization, …
  std::string last_event_id;  // sent as Last-Event-ID when not empty (resume)
  // Called now and then while the stream is open, events or not (curl's progress tick, about
  // once a second): lets a client run debounced work between events. An error ends the stream.
  std::function<Status()> on_tick;
};

struct SseResult {
  int status = 0;          // HTTP status of the stream's response
  std::string error_body;  // first bytes of a non-2xx body
  std::string last_event_id;
};

// Opens a text/event-stream with a streaming GET through `downloader` and hands every event to
// `on_event` until the server ends the stream. Returns OK with the status when the response
// ended (a non-2xx answer delivers no event: look at `status`); the first error of on_event or
// on_tick (e.g. kCancelled once the client has seen enough); kUnavailable when the connection
// failed or dropped; kUnsupported when a 2xx answer is not text/event-stream. On error the id of
// the last event received is in `*last_event_id` (may be null) for the resume.
Result<SseResult> StreamEvents(Downloader& downloader, const SseRequest& request,
                               const SseParser::Callback& on_event,
                               std::string* last_event_id = nullptr);

}  // namespace oxide
