#pragma once

#include <cstdio>
#include <functional>
#include <string>

#include "agent/update_record.hpp"
#include "base/clock.hpp"

namespace oxide::agent {

// Draws a one-line progress bar for downloads on a terminal (at most ~10 redraws a second).
// `out` and `clock` must outlive the reporter.
class ProgressBar {
 public:
  ProgressBar(std::FILE* out, Clock& clock) : out_(out), clock_(clock) {}
  void Update(const UpdateRecord& r);

 private:
  std::FILE* out_;
  Clock& clock_;
  Clock::Duration last_draw_{};
};

// Download progress as log lines, for when stderr is not a terminal (journald, a file), where
// a redrawn bar is noise: "mlp-mnist: downloading v2 (patch): 1.8 MB of 7.2 MB (25%), 3.1 MB/s".
// One line each time another quarter of the payload has arrived (so every download, however
// fast, logs at least its 100% line), and one at least every `every` while bytes keep
// arriving (so a slow link shows where it is). `clock` must outlive the reporter.
class ProgressLog {
 public:
  ProgressLog(std::function<void(const std::string&)> sink, Clock& clock,
              Clock::Duration every = std::chrono::seconds(10))
      : sink_(std::move(sink)), clock_(clock), every_(every) {}
  void Update(const UpdateRecord& r);

 private:
  std::function<void(const std::string&)> sink_;
  Clock& clock_;
  Clock::Duration every_;
  std::string download_;  // model, version and payload kind of the download followed
  uint64_t start_bytes_ = 0;
  uint64_t last_bytes_ = 0;
  Clock::Duration start_time_{};
  Clock::Duration last_line_{};
  int last_quarter_ = 0;  // quarters (1..4) already logged
};

// "812 B", "7.2 kB", "2.14 MB", "1.20 GB" (decimal units, as the demo and docs print).
std::string HumanBytes(uint64_t n);

}  // namespace oxide::agent
