#include "base/file_system.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>

#include "base/file_util.hpp"

namespace oxide {

Result<uint64_t> FreeDiskBytes(const std::string& dir) {
  struct statvfs sv {};
  if (::statvfs(dir.c_str(), &sv) != 0) return ErrnoError("statvfs " + dir, errno);
  return static_cast<uint64_t>(sv.f_bavail) * static_cast<uint64_t>(sv.f_frsize);
}

std::string ParentDir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

namespace {
std::string TempNameFor(const std::string& path) { return UniqueTempName(path + ".tmp"); }
}  // namespace

Status WriteFileAtomically(FileSystem& fs, const std::string& path, std::string_view contents) {
  std::string tmp = TempNameFor(path);
  Status st = [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(auto f, fs.OpenForAppend(tmp, /*truncate=*/true));
    OXIDE_RETURN_IF_ERROR(f->Append(contents.data(), contents.size()));
    OXIDE_RETURN_IF_ERROR(f->Sync());
    f.reset();
    OXIDE_RETURN_IF_ERROR(fs.Rename(tmp, path));
    return fs.SyncDir(ParentDir(path));
  }();
  if (!st.ok()) {
    // Best effort: a leftover temp file is harmless and removed by the next cleanup.
    Status ignored = fs.Remove(tmp);
    static_cast<void>(ignored);
  }
  return st;
}

Status CopyFileAtomically(FileSystem& fs, const std::string& from, const std::string& to,
                          const std::function<bool()>& should_stop) {
  OXIDE_ASSIGN_OR_RETURN(auto in, ReadableFile::Open(from));
  std::string tmp = TempNameFor(to);
  Status st = [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(auto out, fs.OpenForAppend(tmp, /*truncate=*/true));
    std::string buf(1 << 20, '\0');
    for (uint64_t off = 0; off < in->size();) {
      if (should_stop && should_stop()) return Cancelled("copy stopped: agent stopping");
      OXIDE_ASSIGN_OR_RETURN(size_t n, in->ReadAt(off, buf.data(), buf.size()));
      if (n == 0) return Corrupt(from + " shrank while copying");
      OXIDE_RETURN_IF_ERROR(out->Append(buf.data(), n));
      off += n;
    }
    OXIDE_RETURN_IF_ERROR(out->Sync());
    out.reset();
    OXIDE_RETURN_IF_ERROR(fs.Rename(tmp, to));
    return fs.SyncDir(ParentDir(to));
  }();
  if (!st.ok()) {
    Status ignored = fs.Remove(tmp);  // best effort, see WriteFileAtomically
    static_cast<void>(ignored);
  }
  return st;
}

}  // namespace oxide
