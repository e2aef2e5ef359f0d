// Replays the committed seeds and crashes of fuzz/fuzz_encrypted_file.cpp through the harness
// itself (compiled into this test), so a fixed crash stays fixed in every build, not only in the
// clang fuzz build. A harness invariant violation aborts the test.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>

#include "base/file_util.hpp"
#include "crypto/aes_gcm_stream.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace oxide::crypto {
const EncryptionKey& FuzzHarnessKey();  // fuzz/fuzz_encrypted_file.cpp
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

// The *.enc.seed files must decrypt under the harness's own key: if the key, the key id or the
// format changed, they would all stop at "wrong key" or at the header, and the fuzzer would
// silently lose its way into the chunk code.
TEST(EncryptedFileFuzzReplay, EncryptedSeedsDecryptUnderTheHarnessKey) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(OXIDE_SOURCE_DIR) / "tests" / "fuzz" / "fuzz_encrypted_file";
  const EncryptionKey& key = FuzzHarnessKey();
  int decrypted = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.path().string().ends_with(".enc.seed")) continue;
    SCOPED_TRACE(e.path().string());
    auto seed = ReadFileToString(e.path().string());
    ASSERT_TRUE(seed.ok());
    ASSERT_GE(seed->size(), 2u);
    EXPECT_EQ((*seed)[0] & 1, 0) << "byte 0 must select the decrypt mode";
    uint64_t plain_bytes = 0;
    auto dec = Decryptor::Create(key, [&](const uint8_t*, size_t n) {
      plain_bytes += n;
      return Status::Ok();
    });
    ASSERT_TRUE(dec.ok());
    Status s = (*dec)->Update(seed->data() + 2, seed->size() - 2);
    if (s.ok()) s = (*dec)->Finish();
    EXPECT_TRUE(s.ok()) << s.ToString();
    ++decrypted;
  }
  EXPECT_GE(decrypted, 4);
}

}  // namespace
}  // namespace oxide::crypto
