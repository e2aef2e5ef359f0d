#pragma once

#include <cstdio>

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

}  // namespace oxide::agent
