// The kDownloading handler: fetches the payload (patch or full file) into `partial`, resuming
// with Range/If-Range from what is already on disk, also after a restart.
#include <charconv>

#include "agent/model_at_rest.hpp"
#include "agent/model_check.hpp"
#include "agent/update_pipeline.hpp"
#include "base/file_system.hpp"
#include "base/sha256.hpp"
#include "protocol/patch_versions.hpp"

namespace oxide::agent {

namespace {

constexpr std::string_view kDeltaType = "application/x-oxide-delta";

uint64_t ParseU64(std::string_view s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// "bytes <first>-<last>/<total>" → first and total (0 when unknown or malformed).
void ParseContentRange(const std::string& v, uint64_t* first, uint64_t* total) {
  *first = 0;
  *total = 0;
  auto sp = v.find(' '), dash = v.find('-'), slash = v.find('/');
  if (sp == std::string::npos || dash == std::string::npos || slash == std::string::npos) return;
  *first = ParseU64(std::string_view(v).substr(sp + 1, dash - sp - 1));
  if (v.compare(slash + 1, std::string::npos, "*") != 0) {
    *total = ParseU64(std::string_view(v).substr(slash + 1));
  }
}

}  // namespace

// Streams a response body into the partial file; owned by one Download() call.
class PayloadSink final : public DownloadSink {
 public:
  PayloadSink(UpdatePipeline& p, uint64_t offset) : p_(p), offset_(offset) {}

  Status OnResponse(const HttpResponseHead& head) override {
    status_ = head.status;
    if (head.status < 200 || head.status > 299) return Status::Ok();
    if (head.status == 206 && offset_ != 0) return OnPartialContent(head);
    // 200 (or a 206 from byte 0): the whole payload, even if we asked for a range (server
    // ignored Range, or If-Range saw a changed resource). Start over; appending would corrupt
    // the file.
    DownloadProgress& d = p_.record_.download;
    const ModelRef& target = *p_.record_.target;
    if (offset_ != 0) p_.Log("server sent the whole payload instead of resuming; restarting");
    offset_ = 0;
    d.via_patch = head.Header("content-type").starts_with(kDeltaType);
    if (d.via_patch && d.full_only) {
      return FailedPrecondition("server sent a patch although the full file was requested");
    }
    std::string etag = head.Header("etag");
    d.etag = etag.starts_with("W/") ? std::string() : etag;  // If-Range needs a strong ETag
    d.payload_sha256 = d.via_patch ? std::string() : head.Header("x-oxide-sha256");
    d.bytes_total = ParseU64(head.Header("content-length"));
    d.bytes_done = 0;
    d.bytes_synced = 0;
    std::string announced = d.via_patch ? head.Header("x-oxide-target-sha256") : d.payload_sha256;
    if (!announced.empty() && announced != target.sha256) {
      return FailedPrecondition("server offers SHA-256 " + announced + " for " + target.version +
                                ", assignment says " + target.sha256);
    }
    // Now the payload's size is known: room for it, plus the model a patch rebuilds beside it
    // (encrypted at rest: any payload, the full file too, is followed by an encrypted staging).
    uint64_t staging = p_.AtRestKey() != nullptr ? EncryptedModelSize(target.size_bytes)
                       : d.via_patch             ? target.size_bytes
                                                 : 0;
    uint64_t need = d.bytes_total + staging;
    auto free = p_.FreeBytes(p_.paths_.dir);
    // A restarted download truncates what the partial file holds: those bytes count as free.
    auto held = p_.deps_.fs.FileSize(p_.paths_.partial);
    if (free.ok() && held.ok()) *free += *held;
    if (free.ok() && *free < need) {
      return ResourceExhausted("local: not enough disk space for " + target.version + ": need " +
                               std::to_string(need) + " bytes, have " + std::to_string(*free));
    }
    // The truncation and the new validator must be durable before any body byte is, or a resume
    // after a power loss could append this payload to the old one's bytes.
    OXIDE_RETURN_IF_ERROR(OpenTruncated());
    return p_.Persist();
  }

  Status Write(const uint8_t* data, size_t n) override {
    if (!file_) return Internal("body before response head");
    OXIDE_RETURN_IF_ERROR(file_->Append(data, n));
    DownloadProgress& d = p_.record_.download;
    d.bytes_done = offset_ + (received_ += n);
    unsynced_ += n;
    if (unsynced_ >= p_.options_.sync_every_bytes) {
      OXIDE_RETURN_IF_ERROR(file_->Sync());
      unsynced_ = 0;
      d.bytes_synced = d.bytes_done;
      OXIDE_RETURN_IF_ERROR(p_.Persist());  // a resume trusts no byte past bytes_synced
    }
    if (p_.options_.on_progress) p_.options_.on_progress(p_.record_);
    if (p_.superseded_) return Cancelled("the assignment changed during the download");
    return Status::Ok();
  }

  Status Finish() {
    if (!file_) return Status::Ok();
    OXIDE_RETURN_IF_ERROR(file_->Sync());
    p_.record_.download.bytes_synced = offset_ + received_;
    return Status::Ok();
  }
  int status() const { return status_; }
  uint64_t size() const { return offset_ + received_; }
  uint64_t received() const { return received_; }

 private:
  Status OpenTruncated() {
    OXIDE_ASSIGN_OR_RETURN(file_, p_.deps_.fs.OpenForAppend(p_.paths_.partial, true));
    return file_->Sync();
  }

  // 206: appended only when it continues the very resource the partial file holds.
  Status OnPartialContent(const HttpResponseHead& head) {
    DownloadProgress& d = p_.record_.download;
    uint64_t first = 0, total = 0;
    ParseContentRange(head.Header("content-range"), &first, &total);
    if (first != offset_) {
      return Unavailable("server resumed at " + std::to_string(first) + ", wanted " +
                         std::to_string(offset_));
    }
    std::string etag = head.Header("etag");
    bool other_etag = !etag.empty() && etag != d.etag;
    bool other_size = total != 0 && d.bytes_total != 0 && total != d.bytes_total;
    if (other_etag || other_size) {
      // Never append bytes of a different resource: start over from an empty file.
      std::string why = "the resumed resource differs from the partial download (ETag " + etag +
                        " vs " + d.etag + ", size " + std::to_string(total) + " vs " +
                        std::to_string(d.bytes_total) + "); restarting it";
      OXIDE_RETURN_IF_ERROR(OpenTruncated());
      file_.reset();
      p_.ResetDownloadProgress();
      OXIDE_RETURN_IF_ERROR(p_.Persist());
      return Unavailable(why);
    }
    if (total != 0) d.bytes_total = total;
    OXIDE_ASSIGN_OR_RETURN(file_, p_.deps_.fs.OpenForAppend(p_.paths_.partial, false));
    return Status::Ok();
  }

  UpdatePipeline& p_;
  uint64_t offset_;
  uint64_t received_ = 0;
  uint64_t unsynced_ = 0;
  int status_ = 0;
  std::unique_ptr<WritableFile> file_;
};

void UpdatePipeline::ResetDownloadProgress() {
  DownloadProgress fresh;
  fresh.full_only = record_.download.full_only;
  fresh.fallback_reason = std::move(record_.download.fallback_reason);
  record_.download = std::move(fresh);
}

// A model that failed to activate for a local reason was kept, verified; if it still verifies it
// becomes staging again and nothing is downloaded. True when it did.
Result<bool> UpdatePipeline::ReuseKeptModel() {
  const ModelRef& t = *record_.target;
  if (!Exists(paths_.kept)) {
    // A kill right after the rename below left the kept copy as staging: use it if it verifies.
    if (record_.local_retry.sha256 != t.sha256 || !Exists(paths_.staging)) return false;
    Status st =
        VerifyModelFile(paths_.staging, t.sha256, t.size_bytes, options_.should_stop, AtRestKey());
    if (st.code() == ErrorCode::kCancelled) return st;
    return st.ok();
  }
  if (record_.local_retry.sha256 == t.sha256) {
    Status st =
        VerifyModelFile(paths_.kept, t.sha256, t.size_bytes, options_.should_stop, AtRestKey());
    if (st.code() == ErrorCode::kCancelled) return st;
    if (st.ok()) {
      OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.partial));
      OXIDE_RETURN_IF_ERROR(deps_.fs.Rename(paths_.kept, paths_.staging));
      OXIDE_RETURN_IF_ERROR(deps_.fs.SyncDir(paths_.dir));
      Log("reusing " + t.version + " kept verified from the last attempt; nothing to download");
      return true;
    }
    Log("the kept copy of " + t.version + " no longer verifies (" + st.ToString() +
        "); downloading it again");
  }
  OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.kept));
  return false;
}

namespace {

// Small (at most kMaxGoldenBytes) and hash-checked: held in memory, then written atomically.
class GoldenSink final : public DownloadSink {
 public:
  explicit GoldenSink(uint64_t limit) : limit_(limit) {}
  Status OnResponse(const HttpResponseHead& head) override {
    status_ = head.status;
    return Status::Ok();
  }
  Status Write(const uint8_t* data, size_t n) override {
    if (status_ < 200 || status_ > 299) return Status::Ok();  // an error body: not kept
    if (bytes_.size() + n > limit_) {
      return FailedPrecondition("golden file is larger than announced (" + std::to_string(limit_) +
                                " bytes)");
    }
    bytes_.append(reinterpret_cast<const char*>(data), n);
    return Status::Ok();
  }
  const std::string& bytes() const { return bytes_; }

 private:
  uint64_t limit_;
  int status_ = 0;
  std::string bytes_;
};

constexpr uint64_t kMaxGoldenBytes = uint64_t{64} << 20;  // the server's limit too

}  // namespace

Result<std::optional<OtaEvent>> UpdatePipeline::FetchGolden() {
  const ModelRef& t = *record_.target;
  if (t.golden_sha256.empty() || !options_.fetch_golden) {
    OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.golden));  // another version's
    return std::optional<OtaEvent>();
  }
  auto held = deps_.fs.ReadFile(paths_.golden, kMaxGoldenBytes);
  if (held.ok() && ToHex(Sha256::Of(*held)) == t.golden_sha256) {
    return std::optional<OtaEvent>();  // fetched before a restart
  }
  if (t.golden_size > kMaxGoldenBytes) {
    SetError("golden file of " + t.version + " is too large: " + std::to_string(t.golden_size) +
             " bytes > " + std::to_string(kMaxGoldenBytes));
    return std::optional<OtaEvent>(OtaEvent::kDownloadInterrupted);
  }
  DownloadRequest req;
  req.url = options_.control_plane + "/api/v1/models/" + record_.model_id + "/versions/" +
            t.version + "/golden";
  req.headers.emplace_back("X-Oxide-Device-Id", options_.device_id);
  if (!options_.device_secret.empty()) {
    req.headers.emplace_back("Authorization", "Bearer " + options_.device_secret);
  }
  GoldenSink sink(t.golden_size);
  // Every way this fails says nothing about the model: the server lost or is replacing the file
  // (404/409), a proxy mangled it, or the operator uploaded another one than announced. So none
  // is counted against the version (which would refuse a good model forever): the update waits
  // and tries again, and a replaced golden file arrives with the next assignment (OnAssignment).
  auto result = deps_.downloader.Get(req, sink);
  if (!result.ok()) {
    const Status& st = result.status();
    if (st.code() == ErrorCode::kUnavailable) {
      SetError("golden file download interrupted: " + st.message());
      return std::optional<OtaEvent>(OtaEvent::kDownloadInterrupted);
    }
    if (st.code() == ErrorCode::kFailedPrecondition) {
      SetError("golden file of " + t.version + " rejected: " + st.message() + "; retrying later");
      return std::optional<OtaEvent>(OtaEvent::kDownloadInterrupted);
    }
    return st;
  }
  const int status = result->head.status;
  if (status < 200 || status > 299) {
    SetError("golden file download of " + t.version + " failed: HTTP " + std::to_string(status) +
             "; retrying later");
    return std::optional<OtaEvent>(OtaEvent::kDownloadInterrupted);
  }
  if (sink.bytes().size() != t.golden_size || ToHex(Sha256::Of(sink.bytes())) != t.golden_sha256) {
    SetError("golden file of " + t.version + " does not match its SHA-256 and size (" +
             std::to_string(sink.bytes().size()) + " bytes); retrying later");
    return std::optional<OtaEvent>(OtaEvent::kDownloadInterrupted);
  }
  OXIDE_RETURN_IF_ERROR(WriteFileAtomically(deps_.fs, paths_.golden, sink.bytes()));
  Log("downloaded the golden file of " + t.version + " (" + std::to_string(t.golden_size) +
      " bytes)");
  return std::optional<OtaEvent>();
}

Result<OtaEvent> UpdatePipeline::Download() {
  const ModelRef& t = *record_.target;
  DownloadProgress& d = record_.download;
  OXIDE_ASSIGN_OR_RETURN(std::optional<OtaEvent> golden_failed, FetchGolden());
  if (golden_failed) return *golden_failed;
  OXIDE_ASSIGN_OR_RETURN(bool reused, ReuseKeptModel());
  if (reused) return OtaEvent::kDownloadComplete;  // `downloaded` finds staging and no payload
  auto size = deps_.fs.FileSize(paths_.partial);
  uint64_t offset = size.ok() ? *size : 0;
  if (offset > d.bytes_synced) {
    // Bytes past the last durable sync point may be garbage (or another payload's) after a
    // power loss: drop them.
    OXIDE_RETURN_IF_ERROR(deps_.fs.Truncate(paths_.partial, d.bytes_synced));
    offset = d.bytes_synced;
  }
  if (offset > 0 && d.etag.empty()) offset = 0;  // nothing to validate a resume with
  if (d.bytes_total != 0 && offset > d.bytes_total) offset = 0;
  if (offset != 0 && offset == d.bytes_total) {
    OXIDE_ASSIGN_OR_RETURN(auto f, deps_.fs.OpenForAppend(paths_.partial, false));
    OXIDE_RETURN_IF_ERROR(f->Sync());
    return OtaEvent::kDownloadComplete;  // finished before a restart
  }
  d.bytes_done = offset;

  DownloadRequest req;
  req.url = options_.control_plane + "/api/v1/models/" + record_.model_id + "/versions/" +
            t.version + "/download";
  req.headers.emplace_back("X-Oxide-Device-Id", options_.device_id);
  if (!options_.device_secret.empty()) {
    req.headers.emplace_back("Authorization", "Bearer " + options_.device_secret);
  }
  if (!d.full_only) {
    // Patch formats this agent applies. With it, a device without a usable base may get the
    // target as a patch against the empty base (a compressed full download). Never sent for
    // the full-file fallback: that must be the model file itself.
    req.headers.emplace_back(std::string(protocol::kPatchVersionsHeader),
                             std::string(protocol::kAgentPatchVersions));
  }
  if (!d.full_only && record_.previous && !record_.previous->sha256.empty()) {
    // An adopted model has no known version; its SHA-256 is what identifies a base.
    if (!record_.previous->version.empty()) {
      req.headers.emplace_back("X-Oxide-Base-Version", record_.previous->version);
    }
    req.headers.emplace_back("X-Oxide-Base-SHA256", record_.previous->sha256);
  }
  if (offset != 0) {
    req.headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-");
    req.headers.emplace_back("If-Range", d.etag);
    Log("resuming download of " + t.version + " at byte " + std::to_string(offset));
  }
  PayloadSink sink(*this, offset);
  auto result = deps_.downloader.Get(req, sink);
  Status synced = sink.Finish();
  // A transfer that was answered (2xx) but ended before bringing one byte past the resume
  // offset: when that keeps happening the server's copy ends there, and resuming cannot help.
  bool answered = sink.status() >= 200 && sink.status() <= 299;
  bool cut_short = result.ok() ? d.bytes_total != 0 && sink.size() != d.bytes_total
                               : result.status().code() == ErrorCode::kUnavailable;
  if (answered && cut_short) {
    d.stalled_attempts = sink.received() == 0 ? d.stalled_attempts + 1 : 0;
    if (d.stalled_attempts >= options_.max_stalled_downloads) {
      SetError("download of " + t.version + " stops at byte " + std::to_string(sink.size()) +
               " of " + std::to_string(d.bytes_total) + " every time (" +
               std::to_string(d.stalled_attempts) +
               " attempts in a row): the server's copy looks truncated");
      return OtaEvent::kDownloadFailed;
    }
  }
  if (!result.ok()) {
    const Status& st = result.status();
    if (st.code() == ErrorCode::kUnavailable) {
      SetError("download interrupted: " + st.message());
      return OtaEvent::kDownloadInterrupted;
    }
    if (st.code() == ErrorCode::kFailedPrecondition) {
      SetError("download rejected: " + st.message());
      return OtaEvent::kDownloadFailed;
    }
    return st;  // kCancelled, or a local disk error: stay here and retry later
  }
  OXIDE_RETURN_IF_ERROR(synced);
  int status = result->head.status;
  if (status == 416) {  // our offset is past the payload: start over next time
    OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.partial));
    ResetDownloadProgress();
    SetError("server rejected the resume range; restarting the download");
    return OtaEvent::kDownloadInterrupted;
  }
  if (status < 200 || status > 299) {
    std::string msg = "download of " + t.version + " failed: HTTP " + std::to_string(status);
    if (!result->error_body.empty()) msg += ": " + result->error_body;
    SetError(msg);
    // 401/403 say "not now" about this device (credential being re-enrolled, device pending,
    // or the assignment changed on the server since the last heartbeat), not that the release
    // is bad: heartbeat again instead of reporting a failed update against the campaign.
    const bool retry = status >= 500 || status == 429 || status == 401 || status == 403;
    return retry ? OtaEvent::kDownloadInterrupted : OtaEvent::kDownloadFailed;
  }
  if (d.bytes_total != 0 && sink.size() != d.bytes_total) {
    SetError("download ended early at " + std::to_string(sink.size()) + " of " +
             std::to_string(d.bytes_total) + " bytes");
    return OtaEvent::kDownloadInterrupted;
  }
  d.bytes_done = d.bytes_total = sink.size();
  Log(std::string("downloaded ") + (d.via_patch ? "patch" : "full file") + " for " + t.version +
      " (" + std::to_string(sink.size()) + " bytes)");
  return OtaEvent::kDownloadComplete;
}

}  // namespace oxide::agent
