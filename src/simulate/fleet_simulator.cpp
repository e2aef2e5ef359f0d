#include "simulate/fleet_simulator.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <memory>
#include <random>
#include <unordered_map>

#include "base/sha256.hpp"
#include "protocol/heartbeat.hpp"
#include "simulate/payload_verifier.hpp"
#include "simulate/scheduler.hpp"

namespace oxide::simulate {

namespace {

constexpr uint16_t kNone = 0xFFFF;
constexpr size_t kMaxReleases = 0xFFFE;
constexpr size_t kMaxDownloads = 16;                       // decoders in memory at once
constexpr uint64_t kMaxWindowBytes = uint64_t{128} << 20;  // the agent's default --max-window-mb
constexpr uint64_t kMaxKeptBytes = uint64_t{1} << 30;      // larger versions are not kept
constexpr int64_t kGraceUs = 30'000'000;
constexpr size_t kReplyCacheSize = 256;

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

uint64_t PeakRssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmHWM:")) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

enum class Next : uint8_t { kEnroll, kHeartbeat, kDownload, kReport };

enum Flag : uint8_t {
  kEnrolled = 1,
  kDownloader = 2,      // downloads and verifies what it is assigned
  kFailer = 4,          // reports a failure instead of installing
  kFullOnly = 8,        // asks for the full file (its base could not be fetched or did not fit)
  kReportFailure = 16,  // the pending report is a failure, not an install
  // Has enrolled at least once: kEnrolled is cleared by a 401 and set again by re-enrolment,
  // this one never is, so `enrolled` counts devices, not enrolments.
  kEverEnrolled = 32
};

// One simulated device: 8 bytes. Ids and secrets are derived from its index, never stored.
struct Device {
  uint16_t installed = kNone;  // release it runs
  uint16_t target = kNone;     // release it is installing
  uint16_t refused = kNone;    // release it failed: never taken again
  Next next = Next::kEnroll;
  uint8_t flags = 0;
};
static_assert(sizeof(Device) == 8);

// A model version as assignments name it (the campaign too: reports carry it).
struct Release {
  std::string model_id, version, sha256, campaign_id;
  uint64_t size_bytes = 0;
};

// A version's bytes, kept from its first verified download as the base of later patches,
// shared by every device that runs it.
struct Base {
  enum class State : uint8_t { kAbsent, kFilling, kReady } state = State::kAbsent;
  std::string bytes;
};

std::string ErrorName(const HttpOutcome& o) {
  switch (o.error) {
    case TransportError::kNone:
      break;
    case TransportError::kTimeout:
      return "timeout";
    case TransportError::kConnect:
      return "connect (" + o.error_text + ")";
    case TransportError::kAborted:
      return "aborted";
    case TransportError::kOther:
      return "transport (" + o.error_text + ")";
  }
  return "HTTP " + std::to_string(o.status);
}

class Engine {
 public:
  Engine(const SimOptions& o, HttpMulti& http, const StopFlag* stop)
      : o_(o),
        http_(http),
        stop_(stop),
        jitter_(o.seed != 0 ? o.seed : std::random_device{}()),
        devices_(o.devices),
        interval_us_(static_cast<int64_t>(o.poll_interval_s * 1e6)),
        max_downloads_(std::min<size_t>(kMaxDownloads, o.concurrency)) {
    char id[16];
    std::snprintf(id, sizeof(id), "%08llx",
                  static_cast<unsigned long long>(jitter_.Uniform() * 4294967296.0));
    run_id_ = id;
    secret_key_ = ToHex(Sha256::Of(run_id_ + std::to_string(jitter_.Uniform())));
    for (Device& d : devices_) {
      if (jitter_.Uniform() < o.fail_fraction) {
        d.flags |= kFailer;
      } else if (jitter_.Uniform() < o.download_fraction) {
        d.flags |= kDownloader;
      }
    }
    struct utsname u {};
    if (::uname(&u) == 0) platform_.arch = u.machine;
    platform_.os = "linux";
    platform_.cpu_count = 1;
    stats_.devices = o.devices;
    stats_.control_planes = o.control_planes.size();
    stats_.poll_interval_s = o.poll_interval_s;
    stats_.concurrency = o.concurrency;
  }

  SimStats Run() {
    const int64_t start = NowUs();
    const int64_t end = start + static_cast<int64_t>(o_.duration_s * 1e6);
    for (uint32_t i = 0; i < o_.devices; ++i) sched_.At(jitter_.First(start, interval_us_), i);
    for (;;) {
      const int64_t now = NowUs();
      if (!stopping_ && (now >= end || (stop_ != nullptr && stop_->requested()))) {
        stopping_ = true;
        stopped_us_ = now;
      }
      if (stopping_ && (http_.in_flight() == 0 || now >= end + kGraceUs)) break;
      int wait_ms = 50;
      if (!stopping_) {
        while (http_.in_flight() < o_.concurrency) {
          const auto due_us = sched_.NextDue();
          auto due = sched_.PopDue(now);
          if (!due) break;
          due_us_ = *due_us;
          Step(*due);
        }
        if (http_.in_flight() < o_.concurrency) {
          if (auto next = sched_.NextDue()) {
            wait_ms = static_cast<int>(std::clamp<int64_t>((*next - now + 999) / 1000, 0, 50));
          }
        }
      }
      http_.Poll(wait_ms);
    }
    stats_.elapsed_s = static_cast<double>(NowUs() - start) / 1e6;
    stats_.measured_s = static_cast<double>(stopped_us_ - start) / 1e6;
    if (all_enrolled_us_ >= 0) {
      stats_.steady_s = static_cast<double>(stopped_us_ - all_enrolled_us_) / 1e6;
    }
    stats_.peak_rss_kb = PeakRssKb();
    return std::move(stats_);
  }

 private:
  std::string DeviceId(uint32_t i) const {
    return o_.fleet + "-" + run_id_ + "-" + std::to_string(i);
  }
  // 67 characters of [0-9a-z]: within the server's 32-256, never oxide_/oxenr_.
  std::string Secret(uint32_t i) const {
    return "sim" + ToHex(Sha256::Of(secret_key_ + ":" + std::to_string(i)));
  }
  const std::string& Url(uint32_t i) const {
    return o_.control_planes[i % o_.control_planes.size()];
  }
  std::vector<std::string> Auth(uint32_t i) const {
    return {"Authorization: Bearer " + Secret(i), "X-Oxide-Device-Id: " + DeviceId(i)};
  }
  void Later(uint32_t i) { sched_.At(jitter_.Next(NowUs(), interval_us_), i); }
  void Now(uint32_t i) { sched_.At(NowUs(), i); }

  // When the request now starting was due, and when it starts: the gap is the scheduling lag
  // (held back by --concurrency or a late loop), recorded here.
  struct Timing {
    int64_t due_us, start_us;
    // From the due time to the end: what a device on its schedule waits (no coordinated
    // omission: a request the simulator could not send on time still counts its wait).
    int64_t IntendedUs(const HttpOutcome& o) const { return start_us - due_us + o.elapsed_us; }
  };
  Timing Started() {
    const Timing t{due_us_, NowUs()};
    stats_.schedule_lag.Record(std::max<int64_t>(0, t.start_us - t.due_us));
    return t;
  }

  void Record(RequestKind kind, const HttpOutcome& o, const Timing& t) {
    KindStats& k = stats_.kind(kind);
    ++k.count;
    stats_.bytes_down += o.bytes_down;
    if (o.error == TransportError::kNone || o.status != 0) {
      k.latency.Record(o.elapsed_us);
      k.intended_latency.Record(t.IntendedUs(o));
    }
  }

  void Step(uint32_t i) {
    switch (devices_[i].next) {
      case Next::kEnroll:
        return Enroll(i);
      case Next::kHeartbeat:
        return Heartbeat(i, false);
      case Next::kReport:
        return Heartbeat(i, true);
      case Next::kDownload:
        return Download(i);
    }
  }

  // ControlPlane::Enroll's request: the secret in the body, no Authorization header.
  void Enroll(uint32_t i) {
    HttpRequest r;
    r.post = true;
    r.url = Url(i) + "/api/v1/enroll";
    r.body = "{\"device_id\":\"" + DeviceId(i) + "\",\"secret\":\"" + Secret(i) + "\"";
    if (!o_.enrollment_tokens.empty()) {
      const std::string& token = o_.enrollment_tokens[i % o_.enrollment_tokens.size()];
      r.body += ",\"enrollment_token\":\"" + token + "\"";
    }
    r.body += "}";
    http_.Start(std::move(r), [this, i, t = Started()](HttpOutcome o) {
      Record(RequestKind::kEnroll, o, t);
      Device& d = devices_[i];
      if (o.error != TransportError::kNone || o.status != 200) {
        std::string what = ErrorName(o);
        if (o.status == 202) what += " (pending: no --enrollment-token?)";
        stats_.AddError(RequestKind::kEnroll, what);
        return Later(i);
      }
      d.flags |= kEnrolled;
      if (!(d.flags & kEverEnrolled)) {
        d.flags |= kEverEnrolled;
        if (++stats_.enrolled == o_.devices) all_enrolled_us_ = NowUs();
      }
      d.next = Next::kHeartbeat;
      Now(i);
    });
  }

  protocol::HeartbeatRequest BaseRequest(const Device& d) const {
    protocol::HeartbeatRequest req;
    req.agent_version = "oxide-simulate/0.1.0";
    req.platform = platform_;
    req.reports.emplace();
    if (d.installed != kNone) {
      const Release& r = releases_[d.installed];
      req.models.push_back({r.model_id, r.version, r.sha256});
      req.current_model = r.model_id;
      req.current_model_version = r.version;
    }
    return req;
  }

  // A plain heartbeat's body depends only on what the device runs: built once per release.
  const std::string& PlainBody(const Device& d) {
    const size_t slot = d.installed == kNone ? 0 : d.installed + 1u;
    if (plain_bodies_.size() <= slot) plain_bodies_.resize(slot + 1);
    if (plain_bodies_[slot].empty()) plain_bodies_[slot] = protocol::ToJson(BaseRequest(d));
    return plain_bodies_[slot];
  }

  std::string ReportBody(uint32_t i) {
    const Device& d = devices_[i];
    protocol::HeartbeatRequest req = BaseRequest(d);
    const Release& t = releases_[d.target];
    protocol::UpdateProgress u;
    u.model_id = t.model_id;
    u.version = t.version;
    if (d.flags & kReportFailure) {
      auto it = failure_text_.find(i);
      protocol::FailureReport f;
      f.id = run_id_ + "-" + std::to_string(i) + "-" + std::to_string(d.target);
      f.model_id = t.model_id;
      f.version = t.version;
      f.campaign_id = t.campaign_id;
      f.outcome = protocol::FailureOutcome::kFailed;
      f.stage = protocol::FailureStage::kVerify;
      f.error = it != failure_text_.end() ? it->second
                                          : "simulated failure (oxide simulate --fail-fraction)";
      f.at_ms = UnixMs();
      u.stage = protocol::UpdateStage::kFailed;
      u.error = f.error;
      req.reports->push_back(std::move(f));
    } else {
      u.stage = protocol::UpdateStage::kCompleted;
    }
    req.update = std::move(u);
    return protocol::ToJson(req);
  }

  // Replies repeat (no assignment, or the same campaign's): parsed once each.
  Result<protocol::HeartbeatResponse> ParseReply(const std::string& body) {
    auto it = reply_cache_.find(body);
    if (it != reply_cache_.end()) return it->second;
    OXIDE_ASSIGN_OR_RETURN(auto reply, protocol::ParseHeartbeatResponse(body));
    if (reply_cache_.size() >= kReplyCacheSize) reply_cache_.clear();
    reply_cache_.emplace(body, reply);
    return reply;
  }

  void Heartbeat(uint32_t i, bool report) {
    HttpRequest r;
    r.post = true;
    r.url = Url(i) + "/api/v1/devices/" + DeviceId(i) + "/heartbeat";
    r.body = report ? ReportBody(i) : PlainBody(devices_[i]);
    r.headers = Auth(i);
    const RequestKind kind = report ? RequestKind::kReport : RequestKind::kHeartbeat;
    http_.Start(std::move(r), [this, i, kind, t = Started()](HttpOutcome o) {
      Record(kind, o, t);
      // Only answered heartbeats make the steady rate: a server shedding load with fast 503s
      // would otherwise look faster than one serving every heartbeat (errors count apart).
      const bool answered = o.error == TransportError::kNone && o.status / 100 == 2;
      if (answered && all_enrolled_us_ >= 0 && !stopping_) {
        ++stats_.steady_heartbeats;
        stats_.steady_latency.Record(o.elapsed_us);
        stats_.steady_intended_latency.Record(t.IntendedUs(o));
      }
      Device& d = devices_[i];
      if (o.error != TransportError::kNone || o.status != 200) {
        stats_.AddError(kind, ErrorName(o));
        if (o.status == 401) {  // the server lost this credential: enrol again, as the agent
          d.flags &= static_cast<uint8_t>(~kEnrolled);
          d.next = Next::kEnroll;
        }
        return Later(i);
      }
      auto reply = ParseReply(o.body);
      if (!reply.ok()) {
        stats_.AddError(kind, "unparseable reply");
        return Later(i);
      }
      if (kind == RequestKind::kReport) {
        ++((d.flags & kReportFailure) ? stats_.failures_reported : stats_.installed);
        d.flags &= static_cast<uint8_t>(~kReportFailure);
        failure_text_.erase(i);
        d.target = kNone;
        d.next = Next::kHeartbeat;
      }
      if (!TakeAssignment(i, *reply)) Later(i);
    });
  }

  uint16_t ReleaseFor(const protocol::Assignment& a) {
    const std::string key = a.model_id + '\n' + a.version + '\n' + a.sha256 + '\n' + a.campaign_id;
    auto it = release_index_.find(key);
    if (it != release_index_.end()) return it->second;
    if (releases_.size() >= kMaxReleases) return kNone;
    releases_.push_back({a.model_id, a.version, a.sha256, a.campaign_id, a.size_bytes});
    const auto idx = static_cast<uint16_t>(releases_.size() - 1);
    release_index_.emplace(key, idx);
    return idx;
  }

  // True when the device starts an update (and is scheduled for it).
  bool TakeAssignment(uint32_t i, const protocol::HeartbeatResponse& reply) {
    Device& d = devices_[i];
    if (!reply.assignment || d.target != kNone) return false;
    const protocol::Assignment& a = *reply.assignment;
    if (d.installed != kNone && releases_[d.installed].model_id == a.model_id &&
        releases_[d.installed].sha256 == a.sha256) {
      return false;  // runs it already
    }
    const uint16_t idx = ReleaseFor(a);
    if (idx == kNone || idx == d.refused) return false;
    ++stats_.assignments;
    d.target = idx;
    if (d.flags & kFailer) {
      d.flags |= kReportFailure;
      d.refused = idx;
      d.next = Next::kReport;
    } else if (d.flags & kDownloader) {
      d.next = Next::kDownload;
    } else {
      d.installed = idx;
      ++stats_.installed_without_download;
      d.next = Next::kReport;
    }
    Now(i);
    return true;
  }

  // A download that cannot be verified ends like the agent's: a failure report.
  void FailUpdate(uint32_t i, const std::string& why) {
    Device& d = devices_[i];
    stats_.AddError(RequestKind::kDownload, "verify (" + why.substr(0, 200) + ")");
    failure_text_[i] = why.substr(0, 1000);
    d.flags |= kReportFailure;
    d.refused = d.target;
    d.next = Next::kReport;
  }

  void DownloadEnded() {
    --downloads_in_flight_;
    if (!download_queue_.empty()) {
      Now(download_queue_.front());
      download_queue_.pop_front();
    }
  }

  void Download(uint32_t i) {
    if (downloads_in_flight_ >= max_downloads_) {
      download_queue_.push_back(i);
      queued_due_us_.emplace(i, due_us_);  // its wait in the queue is part of its latency
      return;
    }
    if (auto q = queued_due_us_.find(i); q != queued_due_us_.end()) {
      due_us_ = q->second;
      queued_due_us_.erase(q);
    }
    Device& d = devices_[i];
    const Release& t = releases_[d.target];
    // The base: what the device runs, when its bytes are in memory (a device may only download
    // what it is assigned, so they come from an earlier verified download, never on demand).
    // Without them the device asks for the full file.
    const Base* base = nullptr;
    if (d.installed != kNone && releases_[d.installed].model_id == t.model_id &&
        !(d.flags & kFullOnly)) {
      auto it = bases_.find(releases_[d.installed].sha256);
      if (it != bases_.end() && it->second.state == Base::State::kReady) {
        base = &it->second;
      } else {
        ++stats_.downloads_without_base;
      }
    }
    // The first download of a version keeps its bytes for later patches (one copy each).
    Base* keep = nullptr;
    if (t.size_bytes <= kMaxKeptBytes) {
      Base& b = bases_[t.sha256];
      if (b.state == Base::State::kAbsent) {
        b.state = Base::State::kFilling;
        keep = &b;
      }
    }
    HttpRequest r;
    r.url = Url(i) + "/api/v1/models/" + t.model_id + "/versions/" + t.version + "/download";
    r.headers = Auth(i);
    r.timeout_ms = 0;
    if (base != nullptr) {
      const Release& b = releases_[d.installed];
      r.headers.push_back("X-Oxide-Base-Version: " + b.version);
      r.headers.push_back("X-Oxide-Base-SHA256: " + b.sha256);
    }
    struct State {
      std::unique_ptr<PayloadVerifier> verifier;
      bool patch = false;
      std::string error;
      Status feed = Status::Ok();  // the verifier's error while streaming, for its code
      std::string kept;
    };
    auto st = std::make_shared<State>();
    ++downloads_in_flight_;
    auto head = [st, base, keep, sha = t.sha256](int, const HeaderMap& h) {
      auto get = [&h](const char* name) {
        auto it = h.find(name);
        return it == h.end() ? std::string() : it->second;
      };
      st->patch = get("content-type").starts_with("application/x-oxide-delta");
      const std::string offered = get(st->patch ? "x-oxide-target-sha256" : "x-oxide-sha256");
      if (!offered.empty() && offered != sha) {
        st->error = "the server offers SHA-256 " + offered + ", the assignment says " + sha;
        return false;
      }
      if (st->patch && base == nullptr) {
        st->error = "the server sent a patch although no base was named";
        return false;
      }
      std::string* kept = keep != nullptr ? &st->kept : nullptr;
      st->verifier = st->patch ? PayloadVerifier::ForPatch(base->bytes, sha, kMaxWindowBytes, kept)
                               : PayloadVerifier::ForFull(sha, kept);
      return true;
    };
    auto body = [st](const char* data, size_t n) {
      Status s = st->verifier->Feed(reinterpret_cast<const uint8_t*>(data), n);
      if (!s.ok()) {
        st->error = s.ToString();
        st->feed = s;
      }
      return s.ok();
    };
    http_.Start(
        std::move(r),
        [this, i, st, keep, t = Started()](HttpOutcome o) {
          Record(RequestKind::kDownload, o, t);
          DownloadEnded();
          Device& dev = devices_[i];
          Status verified = Status::Ok();
          if (st->error.empty() && o.error == TransportError::kNone && o.status == 200) {
            stats_.payload_bytes += o.bytes_down;
            verified = st->verifier ? st->verifier->Finish() : Corrupt("empty body");
          }
          const bool ok = st->error.empty() && o.error == TransportError::kNone &&
                          o.status == 200 && verified.ok();
          if (keep != nullptr) {
            keep->state = ok ? Base::State::kReady : Base::State::kAbsent;
            if (ok) {
              keep->bytes = std::move(st->kept);
              ++stats_.bases_kept;
            }
          }
          // A patch this base cannot take (wrong base, found while streaming or at the end; a
          // window over the limit): as the agent, the full file instead. Not an error.
          auto not_applicable = [&st](const Status& s) {
            return st->patch && (s.code() == ErrorCode::kFailedPrecondition ||
                                 s.code() == ErrorCode::kResourceExhausted);
          };
          if (not_applicable(st->feed) || (st->error.empty() && not_applicable(verified))) {
            ++stats_.downloads_fallback;
            dev.flags |= kFullOnly;
            return Now(i);
          }
          if (!st->error.empty()) {
            FailUpdate(i, st->error);
            return Now(i);
          }
          if (o.error != TransportError::kNone || o.status != 200) {
            stats_.AddError(RequestKind::kDownload, ErrorName(o));
            if (o.status == 401) {
              dev.flags &= static_cast<uint8_t>(~kEnrolled);
              dev.next = Next::kEnroll;
            } else {
              dev.next = Next::kHeartbeat;  // the next heartbeat hands the assignment again
            }
            dev.target = kNone;
            return Later(i);
          }
          if (!verified.ok()) {
            FailUpdate(i, verified.ToString());
            return Now(i);
          }
          ++(st->patch ? stats_.downloads_patch : stats_.downloads_full);
          dev.installed = dev.target;
          dev.next = Next::kReport;
          Now(i);
        },
        head, body);
  }

  const SimOptions& o_;
  HttpMulti& http_;
  const StopFlag* stop_;
  Jitter jitter_;
  Scheduler sched_;
  SimStats stats_;
  std::vector<Device> devices_;
  const int64_t interval_us_;
  const size_t max_downloads_;
  std::string run_id_;
  std::string secret_key_;
  protocol::Platform platform_;
  std::vector<Release> releases_;
  std::unordered_map<std::string, uint16_t> release_index_;
  std::unordered_map<std::string, Base> bases_;  // by SHA-256; node-based: a Base* stays valid
  std::vector<std::string> plain_bodies_;
  std::unordered_map<std::string, protocol::HeartbeatResponse> reply_cache_;
  std::unordered_map<uint32_t, std::string> failure_text_;  // devices whose verify failed
  std::deque<uint32_t> download_queue_;
  std::unordered_map<uint32_t, int64_t> queued_due_us_;  // their first due time
  int64_t due_us_ = 0;                                   // of the request being started
  size_t downloads_in_flight_ = 0;
  bool stopping_ = false;
  int64_t all_enrolled_us_ = -1;
  int64_t stopped_us_ = 0;  // when new requests stopped
};

}  // namespace

SimStats RunSimulation(const SimOptions& options, HttpMulti& http, const StopFlag* stop) {
  Engine engine(options, http, stop);
  return engine.Run();
}

}  // namespace oxide::simulate
