#include "server/service/patch_worker.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "protocol/patch_versions.hpp"
#include "server/service/event_data.hpp"

namespace oxide::server {
namespace {

// "detector 1.1" for the log, or the hash's first 12 digits when no version has these bytes.
std::string VersionName(store::Store& store, const std::string& sha256) {
  if (sha256 == protocol::kEmptySha256) return "(empty base)";
  auto v = store.models().FindBySha(sha256);
  return v.ok() ? v->model_id + " " + v->version : sha256.substr(0, 12);
}

std::string HostName() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) return "";
  return host;
}

// Whether lease owner `owner` is a default instance id (hostname:pid:nonce:ns<inode>) of this
// host and this pid namespace whose process has exited. Containers may share a hostname while
// each has its own pid namespace (and pid 1): a pid proves nothing about a process of another
// namespace, so ids without this process's namespace (hostname:pid, hostname:pid:nonce, or
// another ns) are never taken for dead; their leases run out instead.
bool OwnerExitedHere(const std::string& owner) {
  const std::string host = HostName();
  const std::string ns = PidNamespaceTag();
  if (host.empty() || ns.empty()) return false;
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t colon = owner.find(':', start);
    parts.push_back(owner.substr(start, colon == std::string::npos ? colon : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() != 4 || parts[0] != host || parts[3] != ns) return false;
  const std::string& digits = parts[1];
  if (digits.empty() || digits.size() > 9) return false;
  long pid = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    pid = pid * 10 + (c - '0');
  }
  return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// Keeps one job's lease alive while it builds: renews it every `renew_every` (real time; a
// build takes seconds to minutes) until destroyed. lost() once another replica holds the job
// (this one stalled past its lease); other errors are retried at the next renewal.
class LeaseRenewer {
 public:
  LeaseRenewer(store::PatchStore& patches, const Clock& clock, const store::PatchRecord& p,
               const PatchLeaseOptions& lease)
      : patches_(patches), clock_(clock), p_(p), lease_(lease) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~LeaseRenewer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  LeaseRenewer(const LeaseRenewer&) = delete;
  LeaseRenewer& operator=(const LeaseRenewer&) = delete;

  // Renews once more now; false when the lease is someone else's (or lost before).
  bool StillMine() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!lost_) Renew();
    return !lost_;
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!lost_ && !cv_.wait_for(lock, lease_.renew_every, [this] { return stop_; })) Renew();
  }
  void Renew() {  // under mu_
    Status st = patches_.RenewLease(p_.base_sha256, p_.target_sha256, lease_.owner,
                                    clock_.UnixMillis() + lease_.lease_ms);
    if (st.code() == ErrorCode::kFailedPrecondition) {
      lost_ = true;
      log::Warn(
          "patch build lease lost to another replica",
          {{"base", p_.base_sha256.substr(0, 12)}, {"target", p_.target_sha256.substr(0, 12)}});
    } else if (!st.ok()) {
      log::Warn("patch build lease renewal failed", {{"error", st.ToString()}});
    }
  }

  store::PatchStore& patches_;
  const Clock& clock_;
  const store::PatchRecord& p_;
  const PatchLeaseOptions& lease_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool lost_ = false;
  std::thread thread_;
};

}  // namespace

Result<size_t> PatchWorker::ReleaseOrphanedLeases() {
  const store::TimeMs now = clock_.UnixMillis();
  size_t released = 0;
  std::set<std::string> targets;
  OXIDE_ASSIGN_OR_RETURN(auto model_ids, store_.models().ListModelIds());
  for (const auto& id : model_ids) {
    OXIDE_ASSIGN_OR_RETURN(auto versions, store_.models().ListVersions(id));
    for (const auto& v : versions) targets.insert(v.sha256);
  }
  for (const auto& target : targets) {
    OXIDE_ASSIGN_OR_RETURN(auto jobs, store_.patches().ListForTarget(target));
    for (const auto& j : jobs) {
      if (j.state != store::PatchState::kPending || j.lease_owner.empty() || j.lease_until <= now)
        continue;
      if (j.lease_owner != lease_.owner && !OwnerExitedHere(j.lease_owner)) continue;
      OXIDE_RETURN_IF_ERROR(
          store_.patches().ReleaseLease(j.base_sha256, j.target_sha256, j.lease_owner));
      log::Info("patch lease of an earlier run released",
                {{"owner", j.lease_owner}, {"target", VersionName(store_, j.target_sha256)}});
      ++released;
    }
  }
  return released;
}

void PatchWorker::Start() {
  if (auto released = ReleaseOrphanedLeases(); !released.ok()) {
    log::Warn("patch leases of an earlier run not released (they expire)",
              {{"error", released.status().ToString()}});
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  wake_ = true;  // drain jobs left over from before a restart
  thread_ = std::thread([this] { Loop(); });
}

void PatchWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PatchWorker::Notify() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void PatchWorker::Loop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      // The timeout picks up jobs whose retry backoff has passed.
      cv_.wait_for(lock, std::chrono::seconds(15), [this] { return stop_ || wake_; });
      if (stop_) return;
      wake_ = false;
    }
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
      }
      auto ran = RunOnce();
      if (!ran.ok()) {
        log::Error("patch worker: store error", {{"error", ran.status().ToString()}});
        break;  // store trouble: wait for the next enqueue rather than spin
      }
      if (!*ran) break;
    }
  }
}

void PatchWorker::PublishResult(const store::PatchRecord& p, int64_t duration_ms) {
  if (events_ == nullptr) return;
  PatchEventInfo info;
  info.duration_ms = duration_ms;
  if (auto base = store_.models().FindBySha(p.base_sha256); base.ok()) {
    info.model_id = base->model_id;
    info.base_version = base->version;
  }
  if (auto target = store_.models().FindBySha(p.target_sha256); target.ok()) {
    info.model_id = target->model_id;
    info.target_version = target->version;
    info.full_size_bytes = target->size_bytes;
  }
  const bool built =
      p.state == store::PatchState::kReady || p.state == store::PatchState::kNotSmaller;
  events_->Publish(built ? EventType::kPatchBuilt : EventType::kPatchFailed, PatchData(p, info));
}

Result<bool> PatchWorker::WriteLeased(const store::PatchRecord& p) {
  Status st = store_.patches().UpdateLeased(p, lease_.owner);
  if (st.code() == ErrorCode::kFailedPrecondition) return false;
  OXIDE_RETURN_IF_ERROR(st);
  return true;
}

Result<bool> PatchWorker::RunOnce() {
  OXIDE_ASSIGN_OR_RETURN(
      auto next, store_.patches().Claim(clock_.UnixMillis(), lease_.owner, lease_.lease_ms));
  if (!next) return false;
  store::PatchRecord p = *next;
  Result<bool> built = Build(p);
  // Whatever happened, the job is free again (a no-op when another replica took it over).
  Status released = store_.patches().ReleaseLease(p.base_sha256, p.target_sha256, lease_.owner);
  if (!released.ok()) {
    log::Warn("patch lease release failed (it expires)", {{"error", released.ToString()}});
  }
  if (!built.ok()) return built.status();
  return true;
}

Result<bool> PatchWorker::Build(store::PatchRecord& p) {
  if (p.attempts >= kMaxPatchAttempts) {
    // Earlier attempts ended without a verdict (the server died mid-build) or kept failing.
    p.state = store::PatchState::kFailed;
    p.error = "gave up after " + std::to_string(p.attempts) + " attempts" +
              (p.error.empty() ? std::string() : ": " + p.error);
    p.updated_at = clock_.UnixMillis();
    OXIDE_ASSIGN_OR_RETURN(bool written, WriteLeased(p));
    if (!written) return false;
    PublishResult(p, 0);
    log::Warn("patch build failed", {{"base", VersionName(store_, p.base_sha256)},
                                     {"target", VersionName(store_, p.target_sha256)},
                                     {"error", p.error}});
    return true;
  }
  // Persisted before building, so a job that crashes the server is not retried forever.
  ++p.attempts;
  p.updated_at = clock_.UnixMillis();
  OXIDE_ASSIGN_OR_RETURN(bool persisted, WriteLeased(p));
  if (!persisted) return false;

  std::string target_path = blobs_.PathFor(p.target_sha256);
  std::string out = blobs_.TempPath();
  const std::string base_name = VersionName(store_, p.base_sha256);
  const std::string target_name = VersionName(store_, p.target_sha256);
  log::Info("patch build started",
            {{"base", base_name}, {"target", target_name}, {"attempt", p.attempts}});
  const auto build_start = std::chrono::steady_clock::now();
  std::optional<LeaseRenewer> renewer;
  renewer.emplace(store_.patches(), clock_, p, lease_);
  Status st = [&]() -> Status {
    // The empty base (first installs) is no blob: the builder takes "" for it.
    const std::string base_path =
        p.base_sha256 == protocol::kEmptySha256 ? std::string() : blobs_.PathFor(p.base_sha256);
    OXIDE_ASSIGN_OR_RETURN(BuiltPatch built, build_(base_path, target_path, out));
    OXIDE_ASSIGN_OR_RETURN(BlobInfo blob, blobs_.Adopt(out));
    std::error_code ec;
    uint64_t target_size = std::filesystem::file_size(target_path, ec);
    if (ec) return IoError("stat " + target_path + ": " + ec.message());
    p.patch_sha256 = blob.sha256;
    p.patch_size = blob.size;
    p.strategy = built.strategy;
    p.state = blob.size < target_size ? store::PatchState::kReady : store::PatchState::kNotSmaller;
    p.error.clear();
    return Status::Ok();
  }();
  std::error_code ec;
  std::filesystem::remove(out, ec);  // gone already after a successful Adopt
  const bool mine = renewer->StillMine();
  renewer.reset();
  if (!mine) {
    // Another replica claimed the job after this one's lease ran out (a stall): its build
    // decides; the blob adopted here, if unreferenced, goes with the next garbage collection.
    log::Warn("patch build result dropped: the job's lease passed to another replica",
              {{"base", base_name}, {"target", target_name}});
    return false;
  }
  p.updated_at = clock_.UnixMillis();
  if (!st.ok()) {
    p.error = st.ToString();
    const bool transient =
        st.code() == ErrorCode::kIo || st.code() == ErrorCode::kResourceExhausted;
    if (transient && p.attempts < kMaxPatchAttempts) {
      p.state = store::PatchState::kPending;  // the disk may recover: retry later
      p.not_before = p.updated_at + kPatchRetryBackoffMs * (int64_t{1} << (p.attempts - 1));
    } else {
      p.state = store::PatchState::kFailed;
    }
  }
  // Written only while the lease is still this replica's: between StillMine() and here it may
  // have run out and passed on, or the job may have been reset (ModelService::ResetPatch clears
  // the lease); the other writer's state stands.
  OXIDE_ASSIGN_OR_RETURN(bool written, WriteLeased(p));
  if (!written) {
    log::Warn("patch build result dropped: the job's lease passed on or was reset",
              {{"base", base_name}, {"target", target_name}});
    return false;
  }
  const auto took = std::chrono::steady_clock::now() - build_start;
  const double seconds = std::chrono::duration<double>(took).count();
  if (metrics_ != nullptr) metrics_->ObservePatchBuild(seconds, st.ok());
  if (p.state != store::PatchState::kPending) {
    PublishResult(p, std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
  }
  if (st.ok()) {
    log::Info(
        p.state == store::PatchState::kReady ? "patch ready" : "patch not smaller: not served",
        {{"base", base_name},
         {"target", target_name},
         {"strategy", p.strategy},
         {"bytes", p.patch_size},
         {"seconds", seconds}});
  } else {
    log::Warn(
        p.state == store::PatchState::kPending ? "patch build failed, will retry"
                                               : "patch build failed",
        {{"base", base_name}, {"target", target_name}, {"error", p.error}, {"seconds", seconds}});
  }
  return true;
}

}  // namespace oxide::server
