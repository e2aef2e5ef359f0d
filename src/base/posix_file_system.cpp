#include "base/posix_file_system.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "base/file_util.hpp"

namespace oxide {

namespace {

Status FromErrno(std::string_view what, int err) {
  if (err == ENOENT) return NotFound(std::string(what) + ": no such file or directory");
  return ErrnoError(what, err);
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override { ::close(fd_); }
  PosixWritableFile(const PosixWritableFile&) = delete;
  PosixWritableFile& operator=(const PosixWritableFile&) = delete;

  Status Append(const void* data, size_t n) override {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("write " + path_, errno);
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
    return Status::Ok();
  }

  Status Sync() override {
    if (::fdatasync(fd_) != 0) return ErrnoError("fsync " + path_, errno);
    return Status::Ok();
  }

 private:
  std::string path_;
  int fd_;
};

}  // namespace

Result<std::unique_ptr<WritableFile>> PosixFileSystem::OpenForAppend(const std::string& path,
                                                                     bool truncate) {
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return FromErrno("open " + path, errno);
  return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd));
}

Result<std::unique_ptr<WritableFile>> PosixFileSystem::CreatePrivate(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return FromErrno("open " + path, errno);
  return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd));
}

Result<std::string> PosixFileSystem::ReadFile(const std::string& path, size_t max_size) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return FromErrno("stat " + path, errno);
  return ReadFileToString(path, max_size);
}

Result<uint64_t> PosixFileSystem::FileSize(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return FromErrno("stat " + path, errno);
  return static_cast<uint64_t>(st.st_size);
}

Status PosixFileSystem::Truncate(const std::string& path, uint64_t size) {
  if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
    return FromErrno("truncate " + path, errno);
  }
  return Status::Ok();
}

Status PosixFileSystem::Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return FromErrno("rename " + from + " to " + to, errno);
  }
  return Status::Ok();
}

Status PosixFileSystem::Link(const std::string& from, const std::string& to) {
  if (::link(from.c_str(), to.c_str()) != 0) {
    int err = errno;
    if (err == EXDEV || err == EPERM || err == EOPNOTSUPP || err == EMLINK) {
      return Unsupported("hard link " + from + " -> " + to + " not possible");
    }
    return FromErrno("link " + from + " to " + to, err);
  }
  return Status::Ok();
}

Status PosixFileSystem::Remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("unlink " + path, errno);
  return Status::Ok();
}

Status PosixFileSystem::SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FromErrno("open dir " + dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError("fsync dir " + dir, err);
  return Status::Ok();
}

Status PosixFileSystem::CreateDirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("create directory " + dir + ": " + ec.message());
  return Status::Ok();
}

Result<std::vector<std::string>> PosixFileSystem::ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return FromErrno("opendir " + dir, errno);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    std::string full = dir + "/" + name;
    if (::lstat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) names.push_back(name);
  }
  ::closedir(d);
  return names;
}

}  // namespace oxide
