#include "crypto/encrypted_reader.hpp"

#include <gtest/gtest.h>

#include <random>

#include "base/file_util.hpp"
#include "crypto/aes_gcm_stream.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::crypto {
namespace {

constexpr uint32_t kChunk = 64;

class EncryptedReaderTest : public ::testing::Test {
 protected:
  EncryptedReaderTest() : key_(*EncryptionKey::Generate()) {}

  std::string Seal(const std::string& plain) {
    std::string out;
    auto enc = Encryptor::Create(
        key_,
        [&](const uint8_t* p, size_t n) {
          out.append(reinterpret_cast<const char*>(p), n);
          return Status::Ok();
        },
        kChunk);
    EXPECT_OK((*enc)->Update(plain.data(), plain.size()));
    EXPECT_OK((*enc)->Finish());
    return out;
  }
  std::string Write(const std::string& sealed) {
    std::string path = dir_.File("f" + std::to_string(n_++));
    EXPECT_OK(AtomicWriteFile(path, sealed));
    return path;
  }
  static std::string Random(size_t n) {
    std::mt19937 rng(static_cast<uint32_t>(n));
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  }

  testing::TempDir dir_;
  EncryptionKey key_;
  int n_ = 0;
};

TEST_F(EncryptedReaderTest, RandomReadsMatchThePlaintext) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{kChunk}, size_t{kChunk + 1}, size_t{1000}}) {
    std::string plain = Random(size);
    auto r = EncryptedFileReader::Open(Write(Seal(plain)), key_);
    ASSERT_OK(r.status());
    ASSERT_EQ((*r)->size(), size);
    std::mt19937 rng(1);
    for (int i = 0; i < 200 && size > 0; ++i) {
      size_t off = rng() % size, n = rng() % (size - off + 1);
      std::string got(n, '\0');
      ASSERT_OK((*r)->ReadAt(off, got.data(), n));
      ASSERT_EQ(got, plain.substr(off, n)) << off << "+" << n;
    }
    char c;
    EXPECT_STATUS((*r)->ReadAt(size, &c, 1), ErrorCode::kInvalidArgument);
  }
}

TEST_F(EncryptedReaderTest, TruncationAtAChunkBoundaryFailsAtTheLastChunk) {
  std::string plain = Random(3 * kChunk);
  std::string sealed = Seal(plain);
  std::string cut = sealed.substr(0, kEncHeaderSize + 2 * (kChunk + kEncTagSize));
  auto r = EncryptedFileReader::Open(Write(cut), key_);
  ASSERT_OK(r.status());
  std::string got(kChunk, '\0');
  EXPECT_OK((*r)->ReadAt(0, got.data(), kChunk));  // chunk 0 is authentic
  EXPECT_STATUS((*r)->ReadAt(kChunk, got.data(), kChunk), ErrorCode::kCorrupt);
}

TEST_F(EncryptedReaderTest, ImpossibleSizesTamperingAndWrongKey) {
  std::string sealed = Seal(Random(3 * kChunk));
  const size_t two_chunks = kEncHeaderSize + 2 * (kChunk + kEncTagSize);
  for (size_t extra : {size_t{0} + 10, size_t{kEncTagSize}}) {  // shorter than a tag; no data
    EXPECT_STATUS(
        EncryptedFileReader::Open(Write(sealed.substr(0, two_chunks + extra)), key_).status(),
        ErrorCode::kCorrupt)
        << extra;
  }
  EXPECT_STATUS(EncryptedFileReader::Open(Write(sealed.substr(0, kEncHeaderSize)), key_).status(),
                ErrorCode::kCorrupt);
  EXPECT_STATUS(EncryptedFileReader::Open(Write(sealed), *EncryptionKey::Generate()).status(),
                ErrorCode::kFailedPrecondition);
  std::string bad = sealed;
  bad[kEncHeaderSize + kChunk + kEncTagSize + 5] ^= 1;  // chunk 1
  auto r = EncryptedFileReader::Open(Write(bad), key_);
  ASSERT_OK(r.status());
  std::string got(kChunk, '\0');
  EXPECT_OK((*r)->ReadAt(0, got.data(), kChunk));
  EXPECT_STATUS((*r)->ReadAt(kChunk + 3, got.data(), 1), ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace oxide::crypto
