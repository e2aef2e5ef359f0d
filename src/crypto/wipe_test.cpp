// Plaintext and key bytes are wiped before their heap buffers are freed. This binary replaces the
// global operator new/delete (its own executable, so no other test sees it): while a scan is on,
// every block freed through operator delete is searched for a marker first. The marker only
// ever sits in static storage here, so finding it in a freed block means a crypto buffer or
// temporary held it and was not wiped.
#include <gtest/gtest.h>
#include <malloc.h>
#include <openssl/crypto.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "base/file_util.hpp"
#include "crypto/aes_gcm_stream.hpp"
#include "crypto/encrypted_file.hpp"
#include "crypto/encrypted_reader.hpp"
#include "crypto/key_file.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

#if !defined(__SANITIZE_ADDRESS__)
#define OXIDE_WIPE_SCAN 1
#endif

namespace {

std::atomic<bool> g_scan{false};
std::atomic<int> g_found{0};
const void* g_marker = nullptr;
size_t g_marker_size = 0;

[[maybe_unused]] void ScanBeforeFree(void* p) {
  if (p == nullptr || !g_scan.load()) return;
  const size_t n = ::malloc_usable_size(p);
  if (::memmem(p, n, g_marker, g_marker_size) != nullptr) ++g_found;
}

// Runs `f` with the scan on for `marker`; returns the number of freed blocks that held it.
template <class F>
int FreedBlocksHolding(const void* marker, size_t size, F f) {
  g_marker = marker;
  g_marker_size = size;
  g_found = 0;
  g_scan = true;
  f();
  g_scan = false;
  return g_found.load();
}

}  // namespace

#ifdef OXIDE_WIPE_SCAN
void* operator new(size_t n) {
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept {
  ScanBeforeFree(p);
  std::free(p);
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void operator delete[](void* p, size_t) noexcept { operator delete(p); }
#endif

namespace oxide::crypto {
namespace {

constexpr uint32_t kChunk = 4096;
// 32 distinctive bytes, repeated through the plaintext: any 63 plaintext bytes contain them.
constexpr char kMarker[] = "wipe-me:plaintext-marker-0123456";
static_assert(sizeof(kMarker) - 1 == 32);

// Two full chunks and a one-byte final chunk: a buffer that only shrinks to the last chunk keeps
// an earlier chunk's plaintext beyond it.
std::string& Plaintext() {
  static std::string* p = [] {
    auto* s = new std::string;
    for (size_t i = 0; i < 2 * kChunk + 1; ++i) s->push_back(kMarker[i % 32]);
    return s;
  }();
  return *p;
}

class Wipe : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef OXIDE_WIPE_SCAN
    GTEST_SKIP() << "operator delete is the sanitizer's in this build";
#endif
  }
  EncryptionKey key_ = *EncryptionKey::Generate();
};

std::string Seal(const EncryptionKey& key) {
  std::string sealed;
  auto enc = Encryptor::Create(
      key,
      [&](const uint8_t* p, size_t n) {
        sealed.append(reinterpret_cast<const char*>(p), n);
        return Status::Ok();
      },
      kChunk);
  EXPECT_OK((*enc)->Update(Plaintext().data(), Plaintext().size()));
  EXPECT_OK((*enc)->Finish());
  return sealed;
}

TEST_F(Wipe, EncryptorBufferIsWipedBeforeItIsFreed) {
  std::string sealed;
  auto enc = Encryptor::Create(
      key_,
      [&](const uint8_t* p, size_t n) {
        sealed.append(reinterpret_cast<const char*>(p), n);
        return Status::Ok();
      },
      kChunk);
  ASSERT_OK(enc.status());
  ASSERT_OK((*enc)->Update(Plaintext().data(), Plaintext().size() - 1));
  ASSERT_OK((*enc)->Update(Plaintext().data(), 1));
  ASSERT_OK((*enc)->Finish());
  EXPECT_EQ(FreedBlocksHolding(kMarker, 32, [&] { enc->reset(); }), 0);
}

TEST_F(Wipe, DecryptorBufferIsWipedBeforeItIsFreed) {
  const std::string sealed = Seal(key_);
  size_t released = 0;
  auto dec = Decryptor::Create(key_, [&](const uint8_t*, size_t n) {
    released += n;  // not kept: only the decryptor's own buffer may hold plaintext
    return Status::Ok();
  });
  ASSERT_OK(dec.status());
  ASSERT_OK((*dec)->Update(sealed.data(), sealed.size()));
  ASSERT_OK((*dec)->Finish());
  ASSERT_EQ(released, Plaintext().size());
  EXPECT_EQ(FreedBlocksHolding(kMarker, 32, [&] { dec->reset(); }), 0);
}

TEST_F(Wipe, ReaderCacheIsWipedBeforeItIsFreed) {
  testing::TempDir dir;
  ASSERT_OK(AtomicWriteFile(dir.File("e"), Seal(key_)));
  auto reader = EncryptedFileReader::Open(dir.File("e"), key_);
  ASSERT_OK(reader.status());
  char byte = 0;
  ASSERT_OK((*reader)->ReadAt(0, &byte, 1));                       // a full chunk
  ASSERT_OK((*reader)->ReadAt(Plaintext().size() - 1, &byte, 1));  // then the 1-byte last one
  EXPECT_EQ(FreedBlocksHolding(kMarker, 32, [&] { reader->reset(); }), 0);
}

TEST_F(Wipe, KeyFileTextLeavesNoKeyHexInFreedMemory) {
  const std::string text = FormatKeyFile(key_);
  const std::string hex = text.substr(text.rfind("key ") + 4, 64);  // alive through the scan
  int found = FreedBlocksHolding(hex.data(), hex.size(), [&] {
    std::string again = FormatKeyFile(key_);
    OPENSSL_cleanse(again.data(), again.size());
  });
  EXPECT_EQ(found, 0) << "a temporary held the key's hex digits";
}

}  // namespace
}  // namespace oxide::crypto
