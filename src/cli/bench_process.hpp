#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

// What `delta-bench` needs to run competitor tools safely: a private scratch directory made with
// mkdtemp (no predictable path another user could plant a file or symlink at) and a child process
// started with posix_spawnp from an argv vector (no shell, so no quoting of file names).
namespace oxide::cli {

// A fresh 0700 directory under $TMPDIR (or /tmp), removed recursively on destruction.
class ScratchDir {
 public:
  static Result<ScratchDir> Create(std::string_view prefix);
  ScratchDir(ScratchDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  ScratchDir& operator=(ScratchDir&&) = delete;
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir();

  const std::string& path() const { return path_; }
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// The executable `name` would resolve to through $PATH (as posix_spawnp searches it), or "" when
// no directory on $PATH holds an executable file of that name.
std::string FindOnPath(std::string_view name);

// Runs argv[0] (looked up on $PATH) with `argv`, working directory `cwd`, stdin and stdout on
// /dev/null and stderr appended to `stderr_path`; waits for it. Returns its exit status, or
// 128 + signal number when a signal ended it. Fails (kNotFound / kIo) only when it cannot start.
Result<int> RunProcess(const std::vector<std::string>& argv, const std::string& cwd,
                       const std::string& stderr_path);

}  // namespace oxide::cli
