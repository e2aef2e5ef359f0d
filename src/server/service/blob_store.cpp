#include "server/service/blob_store.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <optional>

#include "base/file_util.hpp"
#include "server/service/instance_id.hpp"

namespace oxide::server {
namespace {

constexpr char kTempDir[] = "/.tmp";

bool IsBlobName(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool PathExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Temp files untouched for this long are a crash's leftovers; younger ones may be another
// replica's upload or patch build in progress (replicas share the blob directory, issue #12).
constexpr int64_t kTempLeftoverAgeMs = 3'600'000;
constexpr char kTempPrefix[] = "upload-";

std::string ThisHost() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) return "localhost";
  return host;
}

// The file's last modification in Unix ms; nullopt when it cannot be read.
std::optional<int64_t> ModifiedMs(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

// Stamps a blob with its publication time, which every replica's GC reads (the in-memory
// published_ map only covers this process). Best effort: the map still covers this process.
void StampModified(const std::string& path, int64_t unix_ms) {
  timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_sec = static_cast<time_t>(unix_ms / 1000);
  times[1].tv_nsec = static_cast<long>((unix_ms % 1000) * 1'000'000);
  if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) {
    std::fprintf(stderr, "oxide serve: cannot stamp %s\n", path.c_str());
  }
}

// Best effort: a leftover temp file is harmless and removed by the next Open().
void RemoveQuietly(FileSystem& fs, const std::string& path) {
  Status st = fs.Remove(path);
  if (!st.ok()) std::fprintf(stderr, "oxide serve: %s\n", st.ToString().c_str());
}

// The TempPath prefix: upload-<host>[.ns<inode>].
std::string TempPrefix() {
  const std::string ns = PidNamespaceTag();
  return kTempPrefix + ThisHost() + (ns.empty() ? "" : "." + ns);
}

// Whether temp file `name` (TempPath: upload-<host>.ns<inode>.<pid>.<n>) was written by a
// process of this host and pid namespace that has exited: a crash's leftover whatever its age.
// Any other writer (another container, or a name without the namespace) is left to the age
// rule: its pid may be running where we cannot see it.
bool WriterExitedHere(const std::string& name) {
  if (PidNamespaceTag().empty()) return false;
  const std::string prefix = TempPrefix() + ".";
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  long pid = 0;
  size_t i = prefix.size();
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9' && pid < (1L << 30); ++i) {
    pid = pid * 10 + (name[i] - '0');
  }
  if (pid <= 0 || i >= name.size() || name[i] != '.') return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// Removes the temp files under `dir` that no running writer can own: written by an exited
// process of this host, or not written to for kTempLeftoverAgeMs (an unreadable time counts as
// old).
void RemoveLeftoverTemps(FileSystem& fs, const std::string& dir, int64_t now_ms) {
  auto names = fs.ListDir(dir);
  if (!names.ok()) {
    std::fprintf(stderr, "oxide serve: %s\n", names.status().ToString().c_str());
    return;
  }
  for (const auto& n : *names) {
    const std::string path = dir + "/" + n;
    auto modified = ModifiedMs(path);
    if (!WriterExitedHere(n) && modified && now_ms - *modified < kTempLeftoverAgeMs) continue;
    RemoveQuietly(fs, path);
  }
}

}  // namespace

BlobWriter::~BlobWriter() {
  file_.reset();
  if (!committed_) RemoveQuietly(store_.fs_, tmp_);
}

Status BlobWriter::Append(const void* data, size_t n) {
  if (file_ == nullptr) return FailedPrecondition("blob writer already sealed");
  OXIDE_RETURN_IF_ERROR(file_->Append(data, n));
  hash_.Update(data, n);
  size_ += n;
  return Status::Ok();
}

Result<BlobInfo> BlobWriter::Seal() {
  if (sealed_) return *sealed_;
  if (file_ == nullptr) return FailedPrecondition("blob writer failed earlier");
  Status st = file_->Sync();
  file_.reset();
  OXIDE_RETURN_IF_ERROR(st);
  sealed_ = BlobInfo{ToHex(hash_.Finish()), size_};
  return *sealed_;
}

Result<BlobInfo> BlobWriter::Commit() {
  if (committed_) return *sealed_;
  OXIDE_ASSIGN_OR_RETURN(BlobInfo info, Seal());
  OXIDE_RETURN_IF_ERROR(store_.Publish(tmp_, info));
  committed_ = true;
  return info;
}

Result<std::unique_ptr<BlobStore>> BlobStore::Open(FileSystem& fs, const Clock& clock,
                                                   const std::string& root) {
  OXIDE_RETURN_IF_ERROR(fs.CreateDirs(root + kTempDir));
  // Leftovers of an earlier run (a crash mid-upload). A failure is logged and the leftover
  // retried at the next start; it never fails startup.
  RemoveLeftoverTemps(fs, root + kTempDir, clock.UnixMillis());
  return std::unique_ptr<BlobStore>(new BlobStore(fs, clock, root));
}

std::string BlobStore::TempPath() const {
  return UniqueTempName(root_ + kTempDir + "/" + TempPrefix());
}

Result<std::unique_ptr<BlobWriter>> BlobStore::NewWriter() const {
  std::string tmp = TempPath();
  OXIDE_ASSIGN_OR_RETURN(auto file, fs_.OpenForAppend(tmp, /*truncate=*/true));
  return std::unique_ptr<BlobWriter>(new BlobWriter(*this, tmp, std::move(file)));
}

Result<BlobInfo> BlobStore::Put(std::string_view bytes) const {
  OXIDE_ASSIGN_OR_RETURN(auto w, NewWriter());
  OXIDE_RETURN_IF_ERROR(w->Append(bytes));
  return w->Commit();
}

Result<BlobInfo> BlobStore::Adopt(const std::string& temp_path) const {
  OXIDE_ASSIGN_OR_RETURN(Digest d, Sha256File(temp_path));
  OXIDE_ASSIGN_OR_RETURN(uint64_t size, fs_.FileSize(temp_path));
  {
    // Written outside the seam (by the patch builder): an empty append + Sync makes its data
    // durable through it.
    OXIDE_ASSIGN_OR_RETURN(auto f, fs_.OpenForAppend(temp_path, /*truncate=*/false));
    OXIDE_RETURN_IF_ERROR(f->Sync());
  }
  BlobInfo info{ToHex(d), size};
  OXIDE_RETURN_IF_ERROR(Publish(temp_path, info));
  return info;
}

Status BlobStore::Publish(const std::string& tmp, const BlobInfo& info) const {
  std::lock_guard<std::mutex> lock(mu_);
  published_[info.sha256] = clock_.Now();  // from now on GC keeps it for the grace period
  const std::string final_path = PathFor(info.sha256);
  // Our copy always replaces the name, even when an intact blob already has it: the bytes are
  // identical (content-addressed), a corrupt one is repaired, and the file is stamped fresh in
  // the same atomic step. Keeping the existing file instead (check, then stamp it) raced with
  // another replica's GC, which could unlink it between our check and our stamp; now a GC
  // either moved it away before the rename (ours takes its place) or finds it stamped when it
  // re-checks the file it moved away (and puts it back): see CollectGarbage.
  // rename(2) is atomic: readers see the old or the new file, and open ones keep theirs.
  StampModified(tmp, clock_.UnixMillis());
  OXIDE_RETURN_IF_ERROR(fs_.Rename(tmp, final_path));
  return fs_.SyncDir(root_);
}

bool BlobStore::Exists(const std::string& sha256) const { return PathExists(PathFor(sha256)); }

Status BlobStore::Verify(const std::string& sha256) const {
  auto d = Sha256File(PathFor(sha256));
  if (!d.ok()) {
    if (!Exists(sha256)) return NotFound("blob " + sha256 + " not found");
    return d.status();
  }
  std::string actual = ToHex(*d);
  if (actual != sha256) return Corrupt("blob " + sha256 + " hashes to " + actual);
  return Status::Ok();
}

Status BlobStore::Remove(const std::string& sha256) const {
  OXIDE_RETURN_IF_ERROR(fs_.Remove(PathFor(sha256)));
  return fs_.SyncDir(root_);
}

Result<bool> BlobStore::RemoveIfCorrupt(const std::string& sha256) const {
  // Hashed once without the lock (most blobs are intact: publishing is not held up by a
  // scrub), then again under it before the unlink.
  Status st = Verify(sha256);
  if (st.ok() || st.code() == ErrorCode::kNotFound) return false;
  if (st.code() != ErrorCode::kCorrupt) return st;
  std::lock_guard<std::mutex> lock(mu_);
  st = Verify(sha256);
  if (st.ok() || st.code() == ErrorCode::kNotFound) return false;
  if (st.code() != ErrorCode::kCorrupt) return st;
  std::fprintf(stderr, "oxide serve: removing corrupt blob: %s\n", st.message().c_str());
  OXIDE_RETURN_IF_ERROR(Remove(sha256));
  return true;
}

Result<std::vector<std::string>> BlobStore::List() const {
  OXIDE_ASSIGN_OR_RETURN(auto names, fs_.ListDir(root_));
  std::vector<std::string> out;
  for (auto& n : names) {
    if (IsBlobName(n)) out.push_back(std::move(n));
  }
  return out;
}

Result<GcReport> BlobStore::CollectGarbage(
    const std::function<Result<std::unordered_set<std::string>>()>& referenced,
    Clock::Duration grace) const {
  OXIDE_ASSIGN_OR_RETURN(auto names, List());
  OXIDE_ASSIGN_OR_RETURN(auto refs, referenced());
  GcReport report;
  const Clock::Duration now = clock_.Now();
  const int64_t now_ms = clock_.UnixMillis();
  const int64_t grace_ms = std::chrono::duration_cast<std::chrono::milliseconds>(grace).count();
  bool removed_any = false;
  for (const auto& n : names) {
    if (refs.count(n) > 0) continue;
    // Checked and removed under the lock, so a concurrent Publish of the same name either
    // marks it first (kept) or finds it gone and renames its own copy into place.
    std::lock_guard<std::mutex> lock(mu_);
    auto it = published_.find(n);
    // Another replica's publication shows in the file's time only.
    auto modified = ModifiedMs(PathFor(n));
    if ((it != published_.end() && now - it->second < grace) ||
        (modified && now_ms - *modified < grace_ms)) {
      ++report.kept_recent;
      continue;
    }
    // Another replica may publish this name between the check above and the unlink. So the
    // file is first moved out of its name: a publish after that renames its own copy into
    // place, and one before it stamped the file, which the re-check of the moved file sees
    // (it goes back). Either way the name ends up holding the blob.
    const std::string quarantine = UniqueTempName(root_ + kTempDir + "/gc-" + n);
    Status moved = fs_.Rename(PathFor(n), quarantine);
    if (!moved.ok()) {
      if (!Exists(n)) continue;  // another replica's GC took it
      return moved;
    }
    auto stamped = ModifiedMs(quarantine);
    if (stamped && now_ms - *stamped < grace_ms) {
      // Replaces a copy published after the move with identical bytes: harmless.
      OXIDE_RETURN_IF_ERROR(fs_.Rename(quarantine, PathFor(n)));
      ++report.kept_recent;
      continue;
    }
    auto size = fs_.FileSize(quarantine);
    OXIDE_RETURN_IF_ERROR(fs_.Remove(quarantine));
    removed_any = true;
    ++report.removed;
    if (size.ok()) report.bytes_removed += *size;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = published_.begin(); it != published_.end();) {
      it = now - it->second >= grace ? published_.erase(it) : std::next(it);
    }
  }
  // Temp files of crashed uploads and builds the start could not tell from work in progress.
  RemoveLeftoverTemps(fs_, root_ + kTempDir, now_ms);
  if (removed_any) OXIDE_RETURN_IF_ERROR(fs_.SyncDir(root_));
  return report;
}

}  // namespace oxide::server
