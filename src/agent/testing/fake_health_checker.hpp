#pragma once

#include <string>
#include <vector>

#include "agent/health_check.hpp"

namespace oxide::testing {

// A HealthChecker that answers what the test says and records what it was asked. `fail_with`
// (when not OK) is returned instead of a report, e.g. to stand for a check cut short by a crash;
// `local_fault` reports a check that could not run.
class FakeHealthChecker final : public agent::HealthChecker {
 public:
  Result<agent::HealthReport> Check(const agent::HealthCheckRequest& request) override {
    requests.push_back(request);
    if (!fail_with.ok()) return fail_with;
    agent::HealthReport r{healthy, healthy ? "fake: healthy" : "fake: unhealthy"};
    if (local_fault) r = {false, "fake: cannot start the check", true};
    return r;
  }
  bool healthy = true;
  bool local_fault = false;
  Status fail_with = Status::Ok();
  std::vector<agent::HealthCheckRequest> requests;
};

}  // namespace oxide::testing
