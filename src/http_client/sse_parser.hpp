#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.hpp"

namespace oxide {

// One server-sent event (text/event-stream, WHATWG HTML "server-sent events").
struct SseEvent {
  std::string id;    // the stream's last event id when this event was dispatched ("" if none)
  std::string type;  // "event:" field; "message" when absent
  std::string data;  // "data:" lines joined with '\n'
};

// Push parser for a text/event-stream body: Feed() it the bytes as they arrive, in chunks of
// any size (a line or a UTF-8 sequence may be split anywhere); each complete event (ended by a
// blank line) is handed to the callback. Comments (":" lines, e.g. keep-alives) and "retry:" are
// skipped; an event with no "data:" line is not dispatched, but its "id:" still counts (as the
// spec says). Lines end with LF or CRLF (a lone CR is not treated as a line end: our servers never
// send one). Not thread-safe.
class SseParser {
 public:
  using Callback = std::function<Status(const SseEvent&)>;

  // kResourceExhausted when one line grows past kMaxLine bytes or one event's data past
  // kMaxEvent (a broken or hostile stream);
  // otherwise the callback's first error, which stops the parse at that event.
  Status Feed(std::string_view bytes, const Callback& on_event);

  // What a reconnecting client sends as Last-Event-ID.
  const std::string& last_event_id() const { return last_event_id_; }
  // Bytes of comment lines seen so far (the keep-alives prove the stream is alive).
  size_t comments() const { return comments_; }

  static constexpr size_t kMaxLine = 1 << 20;
  static constexpr size_t kMaxEvent = 1 << 20;

 private:
  Status Line(std::string_view line, const Callback& on_event);

  std::string partial_;  // bytes of the current, unfinished line
  std::string type_;
  std::string data_;
  bool has_data_ = false;
  std::string last_event_id_;
  size_t comments_ = 0;
};

}  // namespace oxide
