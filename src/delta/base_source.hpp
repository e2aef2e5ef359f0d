#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/file_util.hpp"
#include "base/result.hpp"

namespace oxide::delta {

// The old model a patch is applied to. Random-access reads for copy/delta segments; a whole
// contiguous view only for the binary strategy (zstd needs its prefix in memory; a file is
// mmapped, so only the pages a patch references become resident).
class BaseSource {
 public:
  virtual ~BaseSource() = default;
  virtual uint64_t size() const = 0;
  virtual Status ReadAt(uint64_t offset, void* dst, size_t n) const = 0;
  virtual Result<std::string_view> View() = 0;

  // No base at all (first install): size 0.
  static std::unique_ptr<BaseSource> Empty();
  // Borrows `bytes`, which must outlive the source.
  static std::unique_ptr<BaseSource> FromMemory(std::string_view bytes);
  // Opens `path` for pread; maps it lazily on View(). kNotFound / kIo.
  static Result<std::unique_ptr<BaseSource>> FromFile(const std::string& path);
};

}  // namespace oxide::delta
