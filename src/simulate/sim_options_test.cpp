#include "simulate/sim_options.hpp"

#include <gtest/gtest.h>

#include "testing/status_matchers.hpp"

namespace oxide::simulate {
namespace {

SimOptions Good() {
  SimOptions o;
  o.control_planes = {"http://127.0.0.1:8080/"};
  o.devices = 100;
  o.poll_interval_s = 1;
  return o;
}

TEST(SimOptions, AcceptsGoodOptionsAndStripsTrailingSlash) {
  SimOptions o = Good();
  o.control_planes.push_back("https://cp2.example//");
  ASSERT_TRUE(Validate(o).ok());
  EXPECT_EQ(o.control_planes[0], "http://127.0.0.1:8080");
  EXPECT_EQ(o.control_planes[1], "https://cp2.example");
}

TEST(SimOptions, RefusesEachBadValue) {
  struct Case {
    const char* what;
    void (*bend)(SimOptions&);
  };
  const Case cases[] = {
      {"no control plane", [](SimOptions& o) { o.control_planes.clear(); }},
      {"not http", [](SimOptions& o) { o.control_planes = {"ftp://x"}; }},
      {"no host", [](SimOptions& o) { o.control_planes = {"http://"}; }},
      {"zero devices", [](SimOptions& o) { o.devices = 0; }},
      {"too many devices", [](SimOptions& o) { o.devices = kMaxDevices + 1; }},
      {"poll too fast", [](SimOptions& o) { o.poll_interval_s = 0.001; }},
      {"poll NaN", [](SimOptions& o) { o.poll_interval_s = 0.0 / 0.0; }},
      {"zero duration", [](SimOptions& o) { o.duration_s = 0; }},
      {"download > 1", [](SimOptions& o) { o.download_fraction = 1.5; }},
      {"fail < 0", [](SimOptions& o) { o.fail_fraction = -0.1; }},
      {"zero concurrency", [](SimOptions& o) { o.concurrency = 0; }},
      {"huge concurrency", [](SimOptions& o) { o.concurrency = kMaxConcurrency + 1; }},
      {"empty token",
       [](SimOptions& o) {
         o.enrollment_tokens = {"oxenr_a", ""};
       }},
      {"bad fleet", [](SimOptions& o) { o.fleet = "a b"; }},
      {"quote in token", [](SimOptions& o) { o.enrollment_tokens = {"oxenr_\"x"}; }},
  };
  for (const Case& c : cases) {
    SimOptions o = Good();
    c.bend(o);
    EXPECT_STATUS(Validate(o), ErrorCode::kInvalidArgument) << c.what;
  }
}

}  // namespace
}  // namespace oxide::simulate
