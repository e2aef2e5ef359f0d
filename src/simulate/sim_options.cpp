#include "simulate/sim_options.hpp"

#include "protocol/ids.hpp"

namespace oxide::simulate {

namespace {

bool InUnit(double v) { return v >= 0 && v <= 1; }

}  // namespace

Status Validate(SimOptions& o) {
  if (o.control_planes.empty()) return InvalidArgument("--control-plane URL is required");
  for (std::string& url : o.control_planes) {
    if (!url.starts_with("http://") && !url.starts_with("https://")) {
      return InvalidArgument("--control-plane must be an http:// or https:// URL: '" + url + "'");
    }
    while (url.size() > 8 && url.back() == '/') url.pop_back();
    if (url == "http://" || url == "https://") {
      return InvalidArgument("--control-plane has no host: '" + url + "'");
    }
  }
  if (o.devices < 1 || o.devices > kMaxDevices) {
    return InvalidArgument("--devices must be 1-" + std::to_string(kMaxDevices));
  }
  // Below 10 ms a "poll" is a flood; the agent's own floor is 0.1 s.
  if (!(o.poll_interval_s >= 0.01 && o.poll_interval_s <= 86400)) {
    return InvalidArgument("--poll-interval must be 0.01-86400 seconds");
  }
  if (!(o.duration_s > 0 && o.duration_s <= 7 * 86400)) {
    return InvalidArgument("--duration must be > 0 and at most a week (seconds)");
  }
  if (!InUnit(o.download_fraction)) return InvalidArgument("--download-fraction must be 0-1");
  if (!InUnit(o.fail_fraction)) return InvalidArgument("--fail-fraction must be 0-1");
  if (o.concurrency < 1 || o.concurrency > kMaxConcurrency) {
    return InvalidArgument("--concurrency must be 1-" + std::to_string(kMaxConcurrency));
  }
  // Ids become <fleet>-<8 hex>-<n>: keep them valid ids (at most 128 characters).
  if (o.fleet.size() > 100 || !protocol::IsValidId(o.fleet)) {
    return InvalidArgument("--fleet must be 1-100 of [A-Za-z0-9._-]");
  }
  for (const std::string& token : o.enrollment_tokens) {
    if (token.empty() || token.find_first_of(" \t\r\n\"\\") != std::string::npos) {
      return InvalidArgument("--enrollment-token is empty or holds whitespace or quotes");
    }
  }
  return Status::Ok();
}

}  // namespace oxide::simulate
