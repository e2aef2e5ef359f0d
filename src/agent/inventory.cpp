#include "agent/inventory.hpp"

#include <sys/stat.h>
#include <sys/utsname.h>

#include <cctype>
#include <cerrno>

#include "base/file_system.hpp"
#include "base/file_util.hpp"

namespace oxide::agent {
namespace {

// PRETTY_NAME="Debian GNU/Linux 12 (bookworm)" → Debian GNU/Linux 12 (bookworm); "" if absent.
std::string PrettyName(const std::string& os_release) {
  size_t pos = 0;
  while (pos < os_release.size()) {
    size_t end = os_release.find('\n', pos);
    if (end == std::string::npos) end = os_release.size();
    std::string line = os_release.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("PRETTY_NAME=", 0) != 0) continue;
    std::string v = line.substr(12);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
      v = v.substr(1, v.size() - 2);
    }
    return v.substr(0, protocol::kMaxInventoryValueBytes);
  }
  return "";
}

}  // namespace

protocol::Inventory PosixInventorySource::System() {
  protocol::Inventory inv;
  inv.agent_version = std::string(kAgentVersion);
  struct utsname u {};
  if (::uname(&u) == 0) {
    inv.os = u.sysname;
    for (char& c : inv.os) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    inv.arch = u.machine;
    inv.os_version = u.release;
  }
  auto os_release = ReadFileToString("/etc/os-release", 64 * 1024);
  if (os_release.ok()) {
    std::string pretty = PrettyName(*os_release);
    if (!pretty.empty()) inv.os_version = pretty;
  }
  return inv;
}

Result<uint64_t> PosixInventorySource::FreeDiskBytes() { return oxide::FreeDiskBytes(model_dir_); }

Result<int64_t> PosixInventorySource::AttributesMtime() {
  struct stat st {};
  if (::stat(inventory_file_.c_str(), &st) != 0) {
    if (errno == ENOENT) return NotFound("inventory file " + inventory_file_ + " does not exist");
    return ErrnoError("stat " + inventory_file_, errno);
  }
  return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

Result<std::string> PosixInventorySource::ReadAttributes() {
  return ReadFileToString(inventory_file_, 256 * 1024);
}

InventoryReporter::InventoryReporter(InventorySource& source,
                                     std::function<void(const std::string&)> log)
    : source_(source), log_(std::move(log)), system_(source.System()) {}

Status InventoryReporter::Load() { return RefreshAttributes(); }

Status InventoryReporter::RefreshAttributes() {
  if (!source_.HasAttributesFile()) return Status::Ok();
  auto mtime = source_.AttributesMtime();
  if (mtime.status().code() == ErrorCode::kNotFound) {
    // The operator removed the file: the device has no custom attributes any more.
    if (attributes_mtime_ || !attributes_.empty()) log_(mtime.status().message());
    attributes_.clear();
    attributes_mtime_.reset();
    return mtime.status();
  }
  OXIDE_RETURN_IF_ERROR(mtime.status());
  if (attributes_mtime_ == *mtime) return Status::Ok();
  attributes_mtime_ = *mtime;  // a bad version is not re-parsed until it changes again
  auto text = source_.ReadAttributes();
  if (!text.ok()) return text.status().WithContext("inventory file");
  auto parsed = protocol::ParseInventoryAttributes(*text);
  if (!parsed.ok()) return parsed.status().WithContext("inventory file");
  attributes_ = std::move(parsed).value();
  return Status::Ok();
}

bool InventoryReporter::DiskMoved(const std::optional<uint64_t>& before,
                                  const std::optional<uint64_t>& now) const {
  if (before.has_value() != now.has_value()) return true;
  if (!before) return false;
  const uint64_t diff = *before > *now ? *before - *now : *now - *before;
  return diff >= kDiskStepBytes || diff * 100 >= kDiskStepPercent * *before;
}

std::optional<protocol::Inventory> InventoryReporter::Next() {
  if (Status st = RefreshAttributes(); !st.ok() && st.code() != ErrorCode::kNotFound) {
    log_(st.ToString() + " (keeping the last good attributes)");
  }
  protocol::Inventory now = system_;
  now.attributes = attributes_;
  auto free = source_.FreeDiskBytes();
  if (free.ok()) now.free_disk_bytes = *free;
  if (!acknowledged_) return now;
  protocol::Inventory without_disk = now;
  without_disk.free_disk_bytes = acknowledged_->free_disk_bytes;
  if (without_disk != *acknowledged_ ||
      DiskMoved(acknowledged_->free_disk_bytes, now.free_disk_bytes)) {
    return now;
  }
  return std::nullopt;
}

void InventoryReporter::Acknowledged(const protocol::Inventory& sent) { acknowledged_ = sent; }

}  // namespace oxide::agent
