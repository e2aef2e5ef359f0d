// Replays the committed seeds and crashes of fuzz/fuzz_encrypted_file.cpp through the harness
// itself (compiled into this test), so a fixed crash stays fixed in every build, not only in the
// clang fuzz build. A harness invariant violation aborts the test.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>

#include "base/file_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace oxide::crypto {
namespace {

TEST(EncryptedFileFuzzReplay, SeedsAndCrashesRunClean) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(OXIDE_SOURCE_DIR) / "tests" / "fuzz" / "fuzz_encrypted_file";
  int replayed = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    auto bytes = ReadFileToString(e.path().string());
    ASSERT_TRUE(bytes.ok()) << e.path();
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
    ++replayed;
  }
  EXPECT_GE(replayed, 5);
}

}  // namespace
}  // namespace oxide::crypto
