#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace oxide {

// A read-only file opened for positional reads (pread). Thread-safe for concurrent ReadAt.
class ReadableFile {
 public:
  static Result<std::unique_ptr<ReadableFile>> Open(const std::string& path);
  ~ReadableFile();
  ReadableFile(const ReadableFile&) = delete;
  ReadableFile& operator=(const ReadableFile&) = delete;

  uint64_t size() const { return size_; }
  // Reads up to n bytes at offset; returns bytes read (0 at EOF). Retries short reads.
  Result<size_t> ReadAt(uint64_t offset, void* dst, size_t n) const;
  // Reads exactly n bytes or fails with kCorrupt (short file) / kIo.
  Status ReadExactAt(uint64_t offset, void* dst, size_t n) const;

 private:
  ReadableFile(int fd, uint64_t size) : fd_(fd), size_(size) {}
  int fd_;
  uint64_t size_;
};

// A read-only memory map of a whole file. Pages are loaded on demand, so mapping a large model
// does not copy it. An empty file maps to an empty span.
class MappedFile {
 public:
  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }
  // Drops the pages of [offset, offset + n) from this process's memory (madvise DONTNEED; they
  // stay in the page cache and are read back on the next access): a reader that is done with a
  // range keeps its resident set bounded on models larger than memory. Contents never change.
  void Release(uint64_t offset, uint64_t n) const;

 private:
  MappedFile(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  const uint8_t* data_;
  size_t size_;
};

// Writes a file durably and atomically: data goes to "<path>.tmp.<pid>.<n>", is fsynced, renamed
// over `path`, and the directory is fsynced. Until Commit() succeeds, `path` is untouched; the
// destructor removes the temp file of an uncommitted writer. `mode` (less the umask) is the
// file's permission bits from its creation on: 0600 for secrets, never readable in between.
class AtomicFileWriter {
 public:
  static Result<std::unique_ptr<AtomicFileWriter>> Create(const std::string& path,
                                                          uint32_t mode = 0644);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  Status Append(const void* data, size_t n);
  Status Append(std::string_view s) { return Append(s.data(), s.size()); }
  uint64_t bytes_written() const { return written_; }
  // Overwrites n already-appended bytes at `offset` (a header completed after its body).
  // kInvalidArgument when the range is not inside what was appended.
  Status WriteAt(uint64_t offset, const void* data, size_t n);
  // fsync, rename, fsync dir. After an error the target is untouched.
  Status Commit();

 private:
  AtomicFileWriter(std::string path, std::string tmp, int fd)
      : path_(std::move(path)), tmp_(std::move(tmp)), fd_(fd) {}
  std::string path_;
  std::string tmp_;
  int fd_;
  uint64_t written_ = 0;
  bool committed_ = false;
};

// Convenience: atomically replace `path` with `contents`.
Status AtomicWriteFile(const std::string& path, std::string_view contents, uint32_t mode = 0644);
// Reads a whole (small) file. Refuses files larger than max_size with kResourceExhausted.
Result<std::string> ReadFileToString(const std::string& path, size_t max_size = 64u << 20);
// A name no other writer in this process (or another live process) uses: `prefix` + ".<pid>.<n>".
// Temp files for atomic writes are named with it.
std::string UniqueTempName(const std::string& prefix);
// Writes all n bytes to `fd`, retrying short writes and EINTR; `what` names the file in errors.
Status WriteAll(int fd, const void* data, size_t n, const std::string& what);
// fsyncs the directory holding `path`, so a rename or create in it is durable.
Status SyncParentDir(const std::string& path);

}  // namespace oxide
