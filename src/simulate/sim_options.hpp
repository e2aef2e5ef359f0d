#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.hpp"

namespace oxide::simulate {

// What `oxide simulate` was asked to do (docs/simulate.md). Filled from flags by SimulateMain.
struct SimOptions {
  std::vector<std::string> control_planes;  // base URLs; device i talks to [i % size()]
  uint32_t devices = 0;
  double poll_interval_s = 0;    // between one device's heartbeats (± 10 % jitter)
  double duration_s = 60;        // then no new request starts; in-flight ones finish
  double download_fraction = 1;  // of assigned devices that download and verify the payload
  double fail_fraction = 0;      // of devices that report a failure instead of installing
  // Fleet enrollment tokens; device i presents [i % size()]. None: devices enrol pending
  // (counted as errors).
  std::vector<std::string> enrollment_tokens;
  std::string fleet = "sim";  // device ids are <fleet>-<run id>-<n>
  uint32_t concurrency = 64;  // requests (and connections) in flight at most
  bool json = false;          // one JSON object on stdout instead of the table
  uint64_t seed = 0;          // 0: random; picks ids, secrets, jitter and the fractions
};

inline constexpr uint32_t kMaxDevices = 1'000'000;
inline constexpr uint32_t kMaxConcurrency = 10'000;

// Checks ranges and URLs and strips trailing '/' from the control planes. kInvalidArgument with
// one line naming the flag.
Status Validate(SimOptions& options);

}  // namespace oxide::simulate
