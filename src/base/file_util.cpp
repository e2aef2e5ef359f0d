#include "base/file_util.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>

namespace oxide {

namespace {
std::atomic<uint64_t> g_tmp_counter{0};  // unique temp names within a process; not state

}  // namespace

Result<std::unique_ptr<ReadableFile>> ReadableFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open " + path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("stat " + path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(path + " is not a regular file");
  }
  return std::unique_ptr<ReadableFile>(new ReadableFile(fd, static_cast<uint64_t>(st.st_size)));
}

ReadableFile::~ReadableFile() { ::close(fd_); }

Result<size_t> ReadableFile::ReadAt(uint64_t offset, void* dst, size_t n) const {
  size_t done = 0;
  char* p = static_cast<char*>(dst);
  while (done < n) {
    ssize_t r = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read", errno);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

Status ReadableFile::ReadExactAt(uint64_t offset, void* dst, size_t n) const {
  OXIDE_ASSIGN_OR_RETURN(size_t got, ReadAt(offset, dst, n));
  if (got != n) return Corrupt("unexpected end of file");
  return Status::Ok();
}

Result<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open " + path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("stat " + path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(path + " is not a regular file");
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return std::unique_ptr<MappedFile>(new MappedFile(nullptr, 0));
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) return ErrnoError("mmap " + path, err);
  return std::unique_ptr<MappedFile>(new MappedFile(static_cast<const uint8_t*>(p), size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

void MappedFile::Release(uint64_t offset, uint64_t n) const {
  if (data_ == nullptr || offset >= size_) return;
  n = std::min<uint64_t>(n, size_ - offset);
  // Whole pages inside the range only (madvise needs an aligned start; a page shared with a
  // neighbouring range stays resident).
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t begin = (offset + page - 1) / page * page;
  uint64_t end = (offset + n) / page * page;
  if (offset + n == size_) end = (size_ + page - 1) / page * page;
  if (end <= begin) return;
  // Advisory: a failure only leaves the pages resident.
  ::madvise(const_cast<uint8_t*>(data_) + begin, end - begin, MADV_DONTNEED);
}

Result<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Create(const std::string& path,
                                                                   uint32_t mode) {
  std::string tmp = UniqueTempName(path + ".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) return ErrnoError("create " + tmp, errno);
  return std::unique_ptr<AtomicFileWriter>(new AtomicFileWriter(path, tmp, fd));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

Status AtomicFileWriter::Append(const void* data, size_t n) {
  if (fd_ < 0) return FailedPrecondition("writer already closed");
  OXIDE_RETURN_IF_ERROR(WriteAll(fd_, data, n, tmp_));
  // Start the disk writes every 8 MiB instead of leaving all of them to Commit()'s fsync: a
  // large file then reaches the disk while it is being produced, and the fsync waits for the
  // tail only. Advisory (a failure only moves the work to the fsync).
  constexpr uint64_t kWriteback = uint64_t{8} << 20;
  if ((written_ + n) / kWriteback != written_ / kWriteback) {
    ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
  }
  written_ += n;
  return Status::Ok();
}

Status AtomicFileWriter::WriteAt(uint64_t offset, const void* data, size_t n) {
  if (fd_ < 0) return FailedPrecondition("writer already closed");
  if (offset > written_ || n > written_ - offset) {
    return InvalidArgument("WriteAt past the end of " + tmp_);
  }
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::pwrite(fd_, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write " + tmp_, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return Status::Ok();
}

Status AtomicFileWriter::Commit() {
  if (fd_ < 0) return FailedPrecondition("writer already closed");
  if (::fsync(fd_) != 0) return ErrnoError("fsync " + tmp_, errno);
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) return ErrnoError("close " + tmp_, errno);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) return ErrnoError("rename to " + path_, errno);
  committed_ = true;
  return SyncParentDir(path_);
}

Status AtomicWriteFile(const std::string& path, std::string_view contents, uint32_t mode) {
  OXIDE_ASSIGN_OR_RETURN(auto w, AtomicFileWriter::Create(path, mode));
  OXIDE_RETURN_IF_ERROR(w->Append(contents));
  return w->Commit();
}

Result<std::string> ReadFileToString(const std::string& path, size_t max_size) {
  OXIDE_ASSIGN_OR_RETURN(auto f, ReadableFile::Open(path));
  if (f->size() > max_size) {
    return ResourceExhausted(path + " is larger than " + std::to_string(max_size) + " bytes");
  }
  std::string out(static_cast<size_t>(f->size()), '\0');
  OXIDE_RETURN_IF_ERROR(f->ReadExactAt(0, out.data(), out.size()));
  return out;
}

std::string UniqueTempName(const std::string& prefix) {
  return prefix + "." + std::to_string(::getpid()) + "." +
         std::to_string(g_tmp_counter.fetch_add(1));
}

Status WriteAll(int fd, const void* data, size_t n, const std::string& what) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write " + what, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status SyncParentDir(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) parent = ".";
  int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open dir " + parent.string(), errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError("fsync dir " + parent.string(), err);
  return Status::Ok();
}

}  // namespace oxide
