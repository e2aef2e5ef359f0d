#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/result.hpp"

namespace oxide {
class StopFlag;
}  // namespace oxide
namespace oxide::crypto {
class EncryptionKey;
}  // namespace oxide::crypto

namespace oxide::agent {

struct HealthCheckRequest {
  std::string model_path;  // the activated file
  std::string model_id;
  std::string version;
  std::string sha256;
  uint64_t size_bytes = 0;
  // Called with the process group id right after a command check started (may be empty), so the
  // caller can save it and kill the group after a crash of its own.
  std::function<void(int pgid)> on_started = nullptr;
  // The model is encrypted at rest (docs/agent.md): the built-in check verifies the decrypted
  // stream with `at_rest_key`; a command gets OXIDE_MODEL_ENCRYPTED=1 and
  // OXIDE_ENCRYPTION_KEY_FILE=<at_rest_key_file> and decrypts as the application would.
  const crypto::EncryptionKey* at_rest_key = nullptr;
  std::string at_rest_key_file = {};
  // Model-aware check (issue #11): the version's golden file ("" none), the model it replaces
  // ("" none: a first install), and whether its signature may differ from that one's.
  std::string golden_path = {};
  std::string golden_sha256 = {};  // its SHA-256 (hex) as fetched; "" not re-checked
  std::string previous_model_path = {};
  bool signature_change_allowed = false;
};

struct HealthReport {
  bool healthy = false;
  std::string detail;  // what the check said (bounded command output, or the failure reason)
  // The check could not run at all (pipe or process creation failed, or the shell could not
  // find or execute the command: exit status 126/127): not the model's fault.
  bool local_fault = false;
  std::optional<int> exit_status = std::nullopt;  // the command's exit status, when it exited
  std::string output = {};  // the tail of its stdout and stderr (at most kMaxOutput bytes)
};

// Decides whether a freshly activated model may stay. An unhealthy model is a normal result,
// not an error. Errors: kCancelled (the agent is stopping: run the check again after restart).
class HealthChecker {
 public:
  virtual ~HealthChecker() = default;
  virtual Result<HealthReport> Check(const HealthCheckRequest& request) = 0;
};

// Built-in check: the activated file has the expected size and SHA-256 and parses as its format.
class BuiltinHealthChecker final : public HealthChecker {
 public:
  Result<HealthReport> Check(const HealthCheckRequest& request) override;
};

// Runs `/bin/sh -c <command>` in its own process group with OXIDE_MODEL_PATH, OXIDE_MODEL_ID and
// OXIDE_MODEL_VERSION in its environment. Exit 0 is healthy. On timeout, or when `stop` is
// requested, the whole process group is killed (timeout: unhealthy; stop: kCancelled). The
// tail of the combined stdout+stderr (last kMaxOutput bytes) is reported. Exit status 126 or
// 127 (the shell could not execute or find the command) is "could not run": local_fault. `stop` may
// be null and must outlive the checker. Uses the real monotonic clock: it supervises a real
// process. When the command ends (or is killed), every process it left behind is killed too, also
// those that left its process group (setsid, double fork): the calling process becomes a child
// subreaper (prctl PR_SET_CHILD_SUBREAPER), so they are re-parented to it, and all its
// descendants are killed and reaped. Hence the process must not have other children of its own
// while a check runs (the agent has none). Output still arriving after that is read for at most
// kDrainTime. A process that cannot be started is reported with local_fault.
class CommandHealthChecker final : public HealthChecker {
 public:
  static constexpr size_t kMaxOutput = 4096;
  static constexpr std::chrono::milliseconds kDrainTime{1000};
  CommandHealthChecker(std::string command, std::chrono::milliseconds timeout, StopFlag* stop)
      : command_(std::move(command)), timeout_(timeout), stop_(stop) {}
  Result<HealthReport> Check(const HealthCheckRequest& request) override;

 private:
  std::string command_;
  std::chrono::milliseconds timeout_;
  StopFlag* stop_;
};

}  // namespace oxide::agent
