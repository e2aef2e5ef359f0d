#include "server/service/blob_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "base/file_util.hpp"

namespace oxide::server {
namespace {

Status PublishTemp(const std::string& tmp, const std::string& final_path) {
  struct stat st {};
  if (::stat(final_path.c_str(), &st) == 0) {
    ::unlink(tmp.c_str());  // content-addressed: the existing blob is byte-identical
    return Status::Ok();
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    return ErrnoError("rename to " + final_path, errno);
  }
  return SyncParentDir(final_path);
}

// Removes leftover temp files from an earlier run. Best effort: a failure is logged and the
// leftover retried at the next start; it never fails startup (error_code overloads only, so
// no filesystem_error can escape).
void CleanTemp(const std::string& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) {
    std::fprintf(stderr, "oxide serve: cannot list %s: %s\n", dir.c_str(), ec.message().c_str());
    return;
  }
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::error_code rm;
    std::filesystem::remove(it->path(), rm);
    if (rm) {
      std::fprintf(stderr, "oxide serve: cannot remove %s: %s\n", it->path().c_str(),
                   rm.message().c_str());
    }
  }
  if (ec) {
    std::fprintf(stderr, "oxide serve: cannot list %s: %s\n", dir.c_str(), ec.message().c_str());
  }
}

}  // namespace

BlobWriter::~BlobWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

Status BlobWriter::Append(const void* data, size_t n) {
  if (fd_ < 0) return FailedPrecondition("blob writer already committed");
  OXIDE_RETURN_IF_ERROR(WriteAll(fd_, data, n, tmp_));
  hash_.Update(data, n);
  size_ += n;
  return Status::Ok();
}

Result<BlobInfo> BlobWriter::Commit() {
  if (fd_ < 0) return FailedPrecondition("blob writer already committed");
  if (::fsync(fd_) != 0) return ErrnoError("fsync " + tmp_, errno);
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) return ErrnoError("close " + tmp_, errno);
  BlobInfo info{ToHex(hash_.Finish()), size_};
  OXIDE_RETURN_IF_ERROR(PublishTemp(tmp_, root_ + "/" + info.sha256));
  committed_ = true;
  return info;
}

Result<std::unique_ptr<BlobStore>> BlobStore::Open(const std::string& root) {
  std::error_code ec;
  std::filesystem::create_directories(root + "/.tmp", ec);
  if (ec) return IoError("create " + root + "/.tmp: " + ec.message());
  CleanTemp(root + "/.tmp");
  return std::unique_ptr<BlobStore>(new BlobStore(root));
}

std::string BlobStore::TempPath() const { return UniqueTempName(root_ + "/.tmp/upload"); }

Result<std::unique_ptr<BlobWriter>> BlobStore::NewWriter() const {
  std::string tmp = TempPath();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("create " + tmp, errno);
  return std::unique_ptr<BlobWriter>(new BlobWriter(root_, tmp, fd));
}

Result<BlobInfo> BlobStore::Put(std::string_view bytes) const {
  OXIDE_ASSIGN_OR_RETURN(auto w, NewWriter());
  OXIDE_RETURN_IF_ERROR(w->Append(bytes));
  return w->Commit();
}

Result<BlobInfo> BlobStore::Adopt(const std::string& temp_path) const {
  OXIDE_ASSIGN_OR_RETURN(Digest d, Sha256File(temp_path));
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(temp_path, ec);
  if (ec) return IoError("stat " + temp_path + ": " + ec.message());
  int fd = ::open(temp_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open " + temp_path, errno);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoError("fsync " + temp_path, errno);
  BlobInfo info{ToHex(d), size};
  OXIDE_RETURN_IF_ERROR(PublishTemp(temp_path, PathFor(info.sha256)));
  return info;
}

bool BlobStore::Exists(const std::string& sha256) const {
  struct stat st {};
  return ::stat(PathFor(sha256).c_str(), &st) == 0;
}

}  // namespace oxide::server
