#pragma once

#include <string>
#include <vector>

#include "agent/health_check.hpp"

namespace oxide::testing {

// A HealthChecker that answers what the test says and records what it was asked.
class FakeHealthChecker final : public agent::HealthChecker {
 public:
  Result<agent::HealthReport> Check(const agent::HealthCheckRequest& request) override {
    requests.push_back(request);
    return agent::HealthReport{healthy, healthy ? "fake: healthy" : "fake: unhealthy"};
  }
  bool healthy = true;
  std::vector<agent::HealthCheckRequest> requests;
};

}  // namespace oxide::testing
