#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "agent/backoff.hpp"
#include "agent/control_plane.hpp"
#include "agent/inventory.hpp"
#include "agent/release_trust.hpp"
#include "agent/update_pipeline.hpp"
#include "base/clock.hpp"
#include "protocol/heartbeat.hpp"

namespace oxide::agent {

// Services the loop uses; all must outlive it.
struct AgentDeps {
  FileSystem& fs;
  Downloader& downloader;
  HealthChecker& health;
  Clock& clock;
  ControlPlane& control;
  // Same server with short timeouts, for heartbeats sent from inside a download (they block the
  // transfer while they wait); null: `control` is used.
  ControlPlane* quick_control = nullptr;
};

struct AgentOptions {
  PipelineOptions pipeline;  // shared by every model's pipeline (on_progress is set by the loop)
  Clock::Duration poll_interval = std::chrono::seconds(30);
  Clock::Duration max_backoff = std::chrono::seconds(300);
  bool once = false;  // one heartbeat + the work it brings, then return
  // Called with download progress (a terminal progress bar); may be empty.
  std::function<void(const UpdateRecord&)> on_progress;
  // Signed releases: every new assignment must carry a release this trust verifies (the loop
  // follows GET /api/v1/keys when one does not). Null: unsigned releases are accepted
  // (--allow-unsigned-releases). Must outlive the loop.
  ReleaseTrust* trust = nullptr;
  // With `trust`: the key chain is followed at start (the first poll) and then again at most
  // once per this interval, so a rotation that retires a key takes effect even while releases
  // signed by the old key still verify (TUF updates the root first). A failed fetch is retried
  // after poll_interval, doubling, capped at this interval.
  Clock::Duration key_chain_interval = std::chrono::hours(1);
  // Decides which heartbeats carry the device's inventory (first one, then on change). Null:
  // none is sent. Must outlive the loop.
  InventoryReporter* inventory = nullptr;
};

// The poll loop: heartbeat (state, installed models, progress, last error) → assignment → the
// pipeline of that model → sleep. Transient failures back off exponentially with jitter.
// Owns one UpdatePipeline per model id. Not thread-safe.
class AgentLoop {
 public:
  static constexpr size_t kReportsPerHeartbeat = 16;
  AgentLoop(AgentDeps deps, AgentOptions options);

  // Opens the pipelines found in the state dir and finishes or resumes what a previous run left
  // (rollback needs no network). Errors: kIo.
  Status Recover();
  // Runs until options.once is done or the clock's sleep is interrupted (stop). Returns the
  // status of the last iteration.
  Status Run();
  // One iteration: heartbeat, assignment, pipelines. kUnavailable etc. on transient failures.
  Status Tick();

  protocol::HeartbeatRequest BuildHeartbeat() const;
  const std::map<std::string, std::unique_ptr<UpdatePipeline>>& pipelines() const {
    return pipelines_;
  }

 private:
  Result<UpdatePipeline*> PipelineFor(const std::string& model_id);
  Status HandleAssignment(const protocol::Assignment& a);
  // Sends a heartbeat; marks carried post-commit notes and failure reports as reported and
  // applies the refusal clearances of the reply.
  Result<protocol::HeartbeatResponse> SendHeartbeat(bool quick = false);
  void OnReplied(const protocol::HeartbeatRequest& sent, const protocol::HeartbeatResponse& reply);
  // Abandons (before activation) updates the reply no longer assigns.
  void CheckStillAssigned(const protocol::HeartbeatResponse& reply);
  void RecheckAssignment(const UpdateRecord& r);
  Result<uint64_t> VerifyRelease(const std::string& model_id, const ModelRef& a,
                                 uint64_t highest_counter);
  // Follows the key chain once (FetchKeyChain + ReleaseTrust::Advance). Returns whether the
  // trusted set moved; a failure is logged.
  Result<bool> FollowKeyChain();
  // Follows the key chain if it is due (first poll, then every key_chain_interval; after a
  // failure, backed off from poll_interval up to that interval).
  void FollowKeyChainIfDue();
  uint64_t BytesDone() const;
  Status RunPipelines();
  void OnProgress(const UpdateRecord& r);
  void Log(const std::string& line) const;

  AgentDeps deps_;
  AgentOptions options_;
  std::map<std::string, std::unique_ptr<UpdatePipeline>> pipelines_;
  std::string focus_;  // the model the heartbeat's `update` block reports
  Clock::Duration interval_;
  Clock::Duration last_heartbeat_{};
  bool in_progress_heartbeat_ = false;
  std::set<std::string> refused_logged_;  // "model@version" refusals already logged
  std::string last_failure_;              // the last failed tick's error, logged once
  std::minstd_rand rng_;
  protocol::Platform platform_;
  // Refusal clearances applied but not yet acknowledged to the server (sent with the next
  // heartbeat; a restart in between applies the repeated clearance again, harmlessly).
  std::vector<int64_t> unacked_clearances_;
  // Key chain schedule (FollowKeyChainIfDue): when it is next due, and failures in a row.
  bool key_chain_followed_ = false;
  Clock::Duration next_key_chain_{};
  uint32_t key_chain_failures_ = 0;
};

// protocol::IsValidId: 1..128 characters of [A-Za-z0-9._-], not "." or "..", the same set the
// server accepts; safe as a file name.
bool IsSafeId(const std::string& id);
// IsSafeId, and not starting with '.' (a model id ".oxide" would be the default state dir).
bool IsSafeModelId(const std::string& id);

}  // namespace oxide::agent
