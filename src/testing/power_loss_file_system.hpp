#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/file_system.hpp"

namespace oxide::testing {

// A FileSystem that forwards to a real one under `root` and remembers what is durable, so a
// test can pull the plug (LevelDB fault_injection_test, RocksDB FaultInjectionTestFS):
//  - file data is durable after WritableFile::Sync(); directory entries (create, rename, link,
//    remove) after SyncDir() of their directory; directories themselves once created;
//  - FailAfter(n): the n+1-th mutating call and every later one fail with kIo (the power went
//    out mid-way);
//  - Crash(): puts the disk under `root` back to its durable state (unsynced data and entries
//    are lost, removed-but-unsynced files come back) and clears the failure;
//  - set_keep_unsynced_entries(true): Crash() keeps directory entries as they are (a file
//    system that happened to write its metadata), while unsynced file data is still lost; a
//    crash sweep should pass in both modes;
//  - InjectError(op, path_part): that one kind of call fails with kIo whenever its (first) path
//    contains `path_part`; not sticky.
// Files written around it (e.g. by ApplyPatchFile) count as durable once the agent calls SyncDir.
// `base` must outlive this object and operate on the real disk.
class PowerLossFileSystem final : public FileSystem {
 public:
  PowerLossFileSystem(FileSystem& base, std::string root);

  void FailAfter(int64_t mutating_ops) { budget_ = mutating_ops; }
  // op: "open", "append", "sync", "truncate", "rename", "link", "remove", "syncdir".
  void InjectError(std::string op, std::string path_part) {
    inject_op_ = std::move(op);
    inject_path_ = std::move(path_part);
  }
  void Crash();
  void set_keep_unsynced_entries(bool v) { keep_unsynced_entries_ = v; }
  bool failed() const { return failed_; }
  uint64_t mutating_ops() const { return ops_; }

  Result<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path,
                                                      bool truncate) override;
  Result<std::string> ReadFile(const std::string& path, size_t max_size) override;
  Result<uint64_t> FileSize(const std::string& path) override;
  Status Truncate(const std::string& path, uint64_t size) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Link(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status SyncDir(const std::string& dir) override;
  Status CreateDirs(const std::string& dir) override;
  Result<std::vector<std::string>> ListDir(const std::string& dir) override;

  // Called by the writable files this creates.
  Status BeforeMutation(const std::string& op, const std::string& path);
  void MarkSynced(ino_t ino) { durable_data_.erase(ino); }

 private:
  void SnapshotDir(const std::string& dir);
  void SnapshotData(const std::string& path);
  void KeepAlive(const std::string& path);

  FileSystem& base_;
  std::string root_;
  std::string grave_;
  uint64_t grave_counter_ = 0;
  // Durable entries (name → inode) of directories changed since their last SyncDir.
  std::map<std::string, std::map<std::string, ino_t>> durable_dirs_;
  // Durable contents of inodes written since their last Sync.
  std::map<ino_t, std::string> durable_data_;
  int64_t budget_ = -1;
  bool keep_unsynced_entries_ = false;
  bool failed_ = false;
  uint64_t ops_ = 0;
  std::string inject_op_;
  std::string inject_path_;
};

}  // namespace oxide::testing
