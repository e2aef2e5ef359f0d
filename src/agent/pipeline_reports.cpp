// What the pipeline tells the control plane about failed attempts (reports, acknowledged by the
// server) and what the control plane tells it back (a refusal cleared by an operator).
#include <algorithm>
#include <random>

#include "agent/update_pipeline.hpp"

namespace oxide::agent {

namespace {

// Unique per device with overwhelming probability, also across a lost state file (a counter
// would restart and collide with ids the server already holds).
std::string NewReportId() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device rd;
  std::string id;
  for (int i = 0; i < 24; ++i) id += kHex[rd() % 16];
  return id;
}

}  // namespace

void UpdatePipeline::QueueReport(const ModelRef& about, protocol::FailureOutcome outcome,
                                 protocol::FailureStage stage, bool local) {
  if (record_.pending_reports.size() >= kMaxPendingReports) {
    // Keep the oldest: the first cause matters most, later ones repeat it.
    Log("report queue full; not reporting: " + record_.last_error);
    return;
  }
  protocol::FailureReport f;
  f.id = NewReportId();
  f.model_id = record_.model_id;
  f.version = about.version;
  f.campaign_id = about.campaign_id;
  f.outcome = outcome;
  f.stage = stage;
  f.local = local;
  f.error = record_.last_error;
  if (stage == protocol::FailureStage::kHealthCheck) {
    f.exit_status = record_.failure_exit_status;
    f.output = record_.failure_output;
  }
  f.at_ms = options_.now_ms ? options_.now_ms() : 0;
  record_.pending_reports.push_back(std::move(f));
}

Status UpdatePipeline::AckReports(const std::vector<std::string>& ids) {
  auto& q = record_.pending_reports;
  size_t before = q.size();
  q.erase(std::remove_if(q.begin(), q.end(),
                         [&](const protocol::FailureReport& f) {
                           return std::find(ids.begin(), ids.end(), f.id) != ids.end();
                         }),
          q.end());
  if (q.size() == before) return Status::Ok();
  Log("reported " + std::to_string(before - q.size()) + " failure report(s) to the control plane");
  return Persist();
}

Result<bool> UpdatePipeline::ClearRefusal(const std::string& version) {
  if (record_.poison_version != version || record_.poison_failures == 0) return false;
  Log("the control plane cleared the refusal of " + version + " (after " +
      std::to_string(record_.poison_failures) + " failures)");
  const UpdateRecord before = record_;
  record_.poison_failures = 0;
  if (record_.last_error.find("refused") != std::string::npos && record_.last_version == version) {
    record_.last_error.clear();
  }
  Status st = Persist();
  if (!st.ok()) {
    // Not acknowledged: the server repeats the clearance, which must then still find the count.
    record_ = before;
    return st;
  }
  return true;
}

}  // namespace oxide::agent
