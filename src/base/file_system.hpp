#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace oxide {

// A file open for writing through a FileSystem. Data is durable only after Sync().
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(const void* data, size_t n) = 0;
  // fsync: the data written so far survives a power loss.
  virtual Status Sync() = 0;
};

// Every file mutation the agent makes goes through this interface, so tests can inject faults
// and power loss (src/testing/power_loss_file_system.hpp). Reads of model files go straight to
// the disk (hashing, patching, format checks): they change nothing, so they need no seam.
// Durability contract (POSIX): file data survives power loss after WritableFile::Sync(); a
// create, rename, link or remove survives after SyncDir() of its directory.
// Errors: kNotFound when a path is missing (where stated), kIo otherwise.
class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Opens `path` for appending, creating it; truncates it first when `truncate`.
  virtual Result<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path,
                                                              bool truncate) = 0;
  // Creates (or truncates) `path` readable and writable by its owner only, for secrets: the
  // mode is set at creation, so the file is never readable by others, even empty. The default
  // refuses (kUnsupported) rather than creating a file others might read.
  virtual Result<std::unique_ptr<WritableFile>> CreatePrivate(const std::string& path) {
    return Unsupported("private files are not supported here: " + path);
  }
  // Reads a whole small file (state files). kNotFound when missing.
  virtual Result<std::string> ReadFile(const std::string& path, size_t max_size) = 0;
  // kNotFound when missing.
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  // truncate(2) to `size` bytes; durable once a handle opened on `path` is Synced.
  // kNotFound when missing.
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;
  // rename(2): atomic replace of `to`.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // link(2). kUnsupported when the file system cannot (other device, no hard links).
  virtual Status Link(const std::string& from, const std::string& to) = 0;
  // Removes a file; OK when it is already gone.
  virtual Status Remove(const std::string& path) = 0;
  virtual Status SyncDir(const std::string& dir) = 0;
  // mkdir -p (directories are treated as durable once created).
  virtual Status CreateDirs(const std::string& dir) = 0;
  // Names of the regular files in `dir` (not recursive). kNotFound when missing.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
};

// Bytes available to an unprivileged user on the file system holding `dir` (statvfs).
Result<uint64_t> FreeDiskBytes(const std::string& dir);

// Atomically replaces `path` through `fs`: temp file, Sync, Rename, SyncDir.
Status WriteFileAtomically(FileSystem& fs, const std::string& path, std::string_view contents);

// Copies a file from the disk (`from`, read directly) to `to` through `fs`, durably and
// atomically (temp file, Sync, Rename, SyncDir). Asks `should_stop` (may be empty) before every
// block: kCancelled (and no file at `to`) when it returned true.
Status CopyFileAtomically(FileSystem& fs, const std::string& from, const std::string& to,
                          const std::function<bool()>& should_stop = {});

std::string ParentDir(const std::string& path);

}  // namespace oxide
