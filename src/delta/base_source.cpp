#include "delta/base_source.hpp"

#include <cstring>

namespace oxide::delta {

namespace {

class MemorySource final : public BaseSource {
 public:
  explicit MemorySource(std::string_view b) : bytes_(b) {}
  uint64_t size() const override { return bytes_.size(); }
  Status ReadAt(uint64_t offset, void* dst, size_t n) const override {
    if (offset > bytes_.size() || n > bytes_.size() - offset) {
      return Corrupt("base range past the end of the base");
    }
    if (n > 0) std::memcpy(dst, bytes_.data() + offset, n);
    return Status::Ok();
  }
  Result<std::string_view> View() override { return bytes_; }

 private:
  std::string_view bytes_;
};

class FileSource final : public BaseSource {
 public:
  FileSource(std::string path, std::unique_ptr<ReadableFile> f)
      : path_(std::move(path)), file_(std::move(f)) {}
  uint64_t size() const override { return file_->size(); }
  Status ReadAt(uint64_t offset, void* dst, size_t n) const override {
    if (offset > file_->size() || n > file_->size() - offset) {
      return Corrupt("base range past the end of the base");
    }
    return file_->ReadExactAt(offset, dst, n);
  }
  Result<std::string_view> View() override {
    if (!map_) {
      OXIDE_ASSIGN_OR_RETURN(map_, MappedFile::Open(path_));
    }
    return map_->view();
  }

 private:
  std::string path_;
  std::unique_ptr<ReadableFile> file_;
  std::unique_ptr<MappedFile> map_;
};

}  // namespace

std::unique_ptr<BaseSource> BaseSource::Empty() {
  return std::make_unique<MemorySource>(std::string_view());
}

std::unique_ptr<BaseSource> BaseSource::FromMemory(std::string_view bytes) {
  return std::make_unique<MemorySource>(bytes);
}

Result<std::unique_ptr<BaseSource>> BaseSource::FromFile(const std::string& path) {
  OXIDE_ASSIGN_OR_RETURN(auto f, ReadableFile::Open(path));
  return std::unique_ptr<BaseSource>(std::make_unique<FileSource>(path, std::move(f)));
}

}  // namespace oxide::delta
