#include "http_client/sse_parser.hpp"

namespace oxide {

Status SseParser::Feed(std::string_view bytes, const Callback& on_event) {
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      if (partial_.size() + bytes.size() > kMaxLine) {
        return ResourceExhausted("event stream line longer than " + std::to_string(kMaxLine));
      }
      partial_.append(bytes);
      return Status::Ok();
    }
    std::string_view line = bytes.substr(0, nl);
    bytes.remove_prefix(nl + 1);
    if (!partial_.empty()) {
      partial_.append(line);
      std::string whole = std::move(partial_);
      partial_.clear();
      OXIDE_RETURN_IF_ERROR(Line(whole, on_event));
    } else {
      OXIDE_RETURN_IF_ERROR(Line(line, on_event));
    }
  }
  return Status::Ok();
}

Status SseParser::Line(std::string_view line, const Callback& on_event) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) {  // dispatch
    if (!has_data_) {
      type_.clear();
      return Status::Ok();
    }
    SseEvent e{last_event_id_, type_.empty() ? "message" : type_, std::move(data_)};
    type_.clear();
    data_.clear();
    has_data_ = false;
    return on_event(e);
  }
  if (line.front() == ':') {
    comments_ += line.size();
    return Status::Ok();
  }
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (data_.size() + value.size() + 1 > kMaxEvent) {
      return ResourceExhausted("event stream event larger than " + std::to_string(kMaxEvent));
    }
    if (has_data_) data_ += '\n';
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    type_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_event_id_.assign(value);
  }
  return Status::Ok();  // "retry" and unknown fields are ignored, as the spec says
}

}  // namespace oxide
