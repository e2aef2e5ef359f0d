#include "testing/power_loss_file_system.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace oxide::testing {

namespace fs = std::filesystem;

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void Spit(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string Parent(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

bool InodeOf(const std::string& path, ino_t* ino) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  *ino = st.st_ino;
  return true;
}

class PowerLossWritableFile final : public WritableFile {
 public:
  PowerLossWritableFile(PowerLossFileSystem& fs, std::unique_ptr<WritableFile> base,
                        std::string path, ino_t ino)
      : fs_(fs), base_(std::move(base)), path_(std::move(path)), ino_(ino) {}
  Status Append(const void* data, size_t n) override {
    OXIDE_RETURN_IF_ERROR(fs_.BeforeMutation("append", path_));
    return base_->Append(data, n);
  }
  Status Sync() override {
    // Durability is simulated here, so the real (slow) fdatasync is skipped.
    OXIDE_RETURN_IF_ERROR(fs_.BeforeMutation("sync", path_));
    fs_.MarkSynced(ino_);
    return Status::Ok();
  }

 private:
  PowerLossFileSystem& fs_;
  std::unique_ptr<WritableFile> base_;
  std::string path_;
  ino_t ino_;
};

}  // namespace

PowerLossFileSystem::PowerLossFileSystem(FileSystem& base, std::string root)
    : base_(base), root_(std::move(root)), grave_(root_ + "/.power-loss-grave") {
  fs::create_directories(grave_);
}

Status PowerLossFileSystem::BeforeMutation(const std::string& op, const std::string& path) {
  if (!inject_op_.empty() && op == inject_op_ && path.find(inject_path_) != std::string::npos) {
    return IoError("injected " + op + " failure on " + path);
  }
  if (failed_) return IoError("power lost (" + op + " " + path + ")");
  if (budget_ == 0) {
    failed_ = true;
    return IoError("power lost (" + op + " " + path + ")");
  }
  if (budget_ > 0) --budget_;
  ++ops_;
  return Status::Ok();
}

void PowerLossFileSystem::SnapshotDir(const std::string& dir) {
  if (durable_dirs_.count(dir)) return;
  auto& entries = durable_dirs_[dir];
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    ino_t ino;
    if (e.is_regular_file() && InodeOf(e.path().string(), &ino)) {
      entries[e.path().filename().string()] = ino;
    }
  }
}

void PowerLossFileSystem::SnapshotData(const std::string& path) {
  ino_t ino;
  if (InodeOf(path, &ino) && !durable_data_.count(ino)) durable_data_[ino] = Slurp(path);
}

void PowerLossFileSystem::KeepAlive(const std::string& path) {
  // A removed or replaced inode may come back after a crash: keep it readable until then.
  ino_t ino;
  if (!InodeOf(path, &ino)) return;
  std::string grave = grave_ + "/" + std::to_string(grave_counter_++);
  if (::link(path.c_str(), grave.c_str()) != 0) SnapshotData(path);
}

Result<std::unique_ptr<WritableFile>> PowerLossFileSystem::OpenForAppend(const std::string& path,
                                                                         bool truncate) {
  OXIDE_RETURN_IF_ERROR(BeforeMutation("open", path));
  ino_t ino;
  bool existed = InodeOf(path, &ino);
  if (existed) {
    SnapshotData(path);
  } else {
    SnapshotDir(Parent(path));
  }
  OXIDE_ASSIGN_OR_RETURN(auto file, base_.OpenForAppend(path, truncate));
  if (!InodeOf(path, &ino)) return IoError("file vanished: " + path);
  if (!existed) durable_data_[ino] = "";
  return std::unique_ptr<WritableFile>(
      new PowerLossWritableFile(*this, std::move(file), path, ino));
}

Result<std::string> PowerLossFileSystem::ReadFile(const std::string& path, size_t max_size) {
  return base_.ReadFile(path, max_size);
}

Result<uint64_t> PowerLossFileSystem::FileSize(const std::string& path) {
  return base_.FileSize(path);
}

Status PowerLossFileSystem::Truncate(const std::string& path, uint64_t size) {
  OXIDE_RETURN_IF_ERROR(BeforeMutation("truncate", path));
  SnapshotData(path);  // the old contents stay durable until a Sync
  return base_.Truncate(path, size);
}

Status PowerLossFileSystem::Rename(const std::string& from, const std::string& to) {
  OXIDE_RETURN_IF_ERROR(BeforeMutation("rename", from));
  SnapshotDir(Parent(from));
  SnapshotDir(Parent(to));
  KeepAlive(to);
  return base_.Rename(from, to);
}

Status PowerLossFileSystem::Link(const std::string& from, const std::string& to) {
  OXIDE_RETURN_IF_ERROR(BeforeMutation("link", from));
  SnapshotDir(Parent(to));
  return base_.Link(from, to);
}

Status PowerLossFileSystem::Remove(const std::string& path) {
  OXIDE_RETURN_IF_ERROR(BeforeMutation("remove", path));
  SnapshotDir(Parent(path));
  KeepAlive(path);
  return base_.Remove(path);
}

Status PowerLossFileSystem::SyncDir(const std::string& dir) {
  OXIDE_RETURN_IF_ERROR(BeforeMutation("syncdir", dir));  // simulated: no real fsync
  durable_dirs_.erase(dir);
  return Status::Ok();
}

Status PowerLossFileSystem::CreateDirs(const std::string& dir) {
  OXIDE_RETURN_IF_ERROR(BeforeMutation("mkdir", dir));
  return base_.CreateDirs(dir);
}

Result<std::vector<std::string>> PowerLossFileSystem::ListDir(const std::string& dir) {
  return base_.ListDir(dir);
}

void PowerLossFileSystem::Crash() {
  // Entries as they are now: only the data of unsynced files is rolled back (below).
  if (keep_unsynced_entries_) durable_dirs_.clear();
  // Any live path of every inode (graveyard included), to read clean contents from.
  std::map<ino_t, std::string> live;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(root_, ec)) {
    ino_t ino;
    if (e.is_regular_file() && InodeOf(e.path().string(), &ino)) live.emplace(ino, e.path());
  }
  auto content_of = [&](ino_t ino) {
    auto d = durable_data_.find(ino);
    return d != durable_data_.end() ? d->second : Slurp(live[ino]);
  };
  struct Want {
    std::string path;
    ino_t ino;
    std::string content;
  };
  std::vector<Want> wants;
  for (const auto& [dir, entries] : durable_dirs_) {
    for (const auto& [name, ino] : entries)
      wants.push_back({dir + "/" + name, ino, content_of(ino)});
  }
  for (const auto& e : fs::recursive_directory_iterator(root_, ec)) {
    std::string path = e.path().string(), dir = Parent(path);
    ino_t ino;
    if (!e.is_regular_file() || dir == grave_ || durable_dirs_.count(dir)) continue;
    if (InodeOf(path, &ino) && durable_data_.count(ino))
      wants.push_back({path, ino, durable_data_[ino]});
  }
  for (const auto& [dir, entries] : durable_dirs_) {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.is_regular_file()) fs::remove(e.path(), ec);
    }
  }
  std::map<ino_t, std::string> recreated;  // keep hard links linked
  for (const Want& w : wants) {
    fs::remove(w.path, ec);
    auto it = recreated.find(w.ino);
    if (it != recreated.end() && ::link(it->second.c_str(), w.path.c_str()) == 0) continue;
    Spit(w.path, w.content);
    recreated[w.ino] = w.path;
  }
  fs::remove_all(grave_, ec);
  fs::create_directories(grave_, ec);
  durable_dirs_.clear();
  durable_data_.clear();
  failed_ = false;
  budget_ = -1;
}

}  // namespace oxide::testing
