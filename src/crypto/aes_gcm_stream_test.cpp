#include "crypto/aes_gcm_stream.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "testing/status_matchers.hpp"

namespace oxide::crypto {
namespace {

constexpr uint32_t kChunk = 64;  // small chunks: many chunk boundaries in a few hundred bytes
constexpr size_t kSealed = kChunk + kEncTagSize;

EncryptionKey KeyOf(uint8_t fill) {
  std::array<uint8_t, kEncKeySize> b;
  b.fill(fill);
  return EncryptionKey(b);
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

std::string Encrypt(const EncryptionKey& key, std::string_view plain, uint32_t chunk = kChunk,
                    size_t piece = 13) {
  std::string out;
  auto enc = Encryptor::Create(
      key,
      [&](const uint8_t* p, size_t n) {
        out.append(reinterpret_cast<const char*>(p), n);
        return Status::Ok();
      },
      chunk);
  EXPECT_TRUE(enc.ok());
  for (size_t i = 0; i < plain.size(); i += piece) {
    EXPECT_OK((*enc)->Update(plain.data() + i, std::min(piece, plain.size() - i)));
  }
  EXPECT_OK((*enc)->Finish());
  return out;
}

// Decrypts `sealed`, feeding it in `piece`-byte pieces. `*emitted` gets whatever the decryptor
// released, even on failure (to check it never releases unverified bytes).
Status Decrypt(const EncryptionKey& key, std::string_view sealed, std::string* emitted,
               size_t piece = 17) {
  emitted->clear();
  auto dec = Decryptor::Create(key, [&](const uint8_t* p, size_t n) {
    emitted->append(reinterpret_cast<const char*>(p), n);
    return Status::Ok();
  });
  if (!dec.ok()) return dec.status();
  for (size_t i = 0; i < sealed.size(); i += piece) {
    OXIDE_RETURN_IF_ERROR((*dec)->Update(sealed.data() + i, std::min(piece, sealed.size() - i)));
  }
  return (*dec)->Finish();
}

Status Decrypt(const EncryptionKey& key, std::string_view sealed) {
  std::string ignored;
  return Decrypt(key, sealed, &ignored);
}

std::string ChunkAt(const std::string& sealed, size_t i) {
  return sealed.substr(kEncHeaderSize + i * kSealed, kSealed);
}

class RoundTrip : public ::testing::TestWithParam<size_t> {};

TEST_P(RoundTrip, EverySizeAndPieceSize) {
  const size_t size = GetParam();
  EncryptionKey key = KeyOf(7);
  std::string plain = RandomBytes(size, static_cast<uint32_t>(size));
  for (size_t piece : {size_t{1}, size_t{13}, size_t{4096}}) {
    std::string sealed = Encrypt(key, plain, kChunk, piece);
    EXPECT_EQ(sealed.size(), EncryptedSize(size, kChunk));
    std::string back;
    ASSERT_OK(Decrypt(key, sealed, &back, piece)) << "size " << size << " piece " << piece;
    EXPECT_EQ(back, plain);
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, RoundTrip,
                         ::testing::Values(0, 1, kChunk - 1, kChunk, kChunk + 1, 2 * kChunk,
                                           37 * kChunk + 5));

TEST(AesGcmStream, DefaultChunkSizeRoundTripOfSeveralChunks) {
  EncryptionKey key = KeyOf(1);
  std::string plain = RandomBytes(3 * kEncDefaultChunkSize + 11, 5);
  std::string sealed = Encrypt(key, plain, kEncDefaultChunkSize, 100000);
  std::string back;
  ASSERT_OK(Decrypt(key, sealed, &back, 70000));
  EXPECT_EQ(back, plain);
}

TEST(AesGcmStream, EmptyPlaintextIsOneEmptyFinalChunk) {
  std::string sealed = Encrypt(KeyOf(1), "");
  EXPECT_EQ(sealed.size(), kEncHeaderSize + kEncTagSize);
}

TEST(AesGcmStream, SamePlaintextEncryptsDifferentlyEachTime) {
  EncryptionKey key = KeyOf(2);
  std::string a = Encrypt(key, "same bytes"), b = Encrypt(key, "same bytes");
  EXPECT_NE(a.substr(kEncOffSalt, kEncSaltSize), b.substr(kEncOffSalt, kEncSaltSize));
  EXPECT_NE(a.substr(kEncHeaderSize), b.substr(kEncHeaderSize));
}

TEST(AesGcmStream, RejectsChunkSizeOutOfRange) {
  auto sink = [](const uint8_t*, size_t) { return Status::Ok(); };
  EXPECT_STATUS(Encryptor::Create(KeyOf(1), sink, kEncMinChunkSize - 1).status(),
                ErrorCode::kInvalidArgument);
  EXPECT_STATUS(Encryptor::Create(KeyOf(1), sink, kEncMaxChunkSize + 1).status(),
                ErrorCode::kInvalidArgument);
}

// Every single-bit flip anywhere in the file is refused, with the code the header field implies.
TEST(AesGcmStream, EveryBitFlipIsDetected) {
  EncryptionKey key = KeyOf(3);
  std::string sealed = Encrypt(key, RandomBytes(2 * kChunk + 9, 1));
  for (size_t i = 0; i < sealed.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = sealed;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      ErrorCode want = ErrorCode::kCorrupt;
      if (i == kEncOffVersion || i == kEncOffSuite) want = ErrorCode::kUnsupported;
      if (i >= kEncOffKeyId && i < kEncOffKeyId + kEncKeyIdSize) {
        want = ErrorCode::kFailedPrecondition;  // names another key
      }
      // A flipped high bit of the chunk size can still be in range: then chunks mis-parse.
      ASSERT_STATUS(Decrypt(key, bad), want) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(AesGcmStream, HeaderFieldChecks) {
  EncryptionKey key = KeyOf(3);
  std::string sealed = Encrypt(key, "x");
  std::string bad = sealed;
  bad[0] = 'X';
  EXPECT_STATUS(Decrypt(key, bad), ErrorCode::kCorrupt);
  bad = sealed;
  bad[kEncOffVersion] = 2;
  EXPECT_STATUS(Decrypt(key, bad), ErrorCode::kUnsupported);
  bad = sealed;
  bad[kEncOffReserved2] = 1;
  EXPECT_STATUS(Decrypt(key, bad), ErrorCode::kCorrupt);
  for (uint32_t size : {0u, kEncMinChunkSize - 1, kEncMaxChunkSize + 1}) {
    bad = sealed;
    for (int i = 0; i < 4; ++i) bad[kEncOffChunkSize + i] = static_cast<char>(size >> (24 - 8 * i));
    std::string out;
    Status s = Decrypt(key, bad, &out);
    EXPECT_STATUS(s, ErrorCode::kCorrupt);
    EXPECT_NE(s.message().find("chunk size"), std::string::npos) << s.ToString();
  }
}

// A one-chunk file decrypts the same under any chunk size >= its length: only the header being
// the AAD of every chunk catches a rewritten chunk size (or any other header byte).
TEST(AesGcmStream, HeaderIsAuthenticated) {
  EncryptionKey key = KeyOf(3);
  std::string sealed = Encrypt(key, "ten bytes!");
  sealed[kEncOffChunkSize + 2] = 1;  // chunk size 64 -> 320
  std::string out;
  Status s = Decrypt(key, sealed, &out);
  EXPECT_STATUS(s, ErrorCode::kCorrupt);
  EXPECT_NE(s.message().find("failed authentication"), std::string::npos) << s.ToString();
  EXPECT_EQ(out, "");
}

TEST(AesGcmStream, TruncationAtEveryLengthIsDetected) {
  EncryptionKey key = KeyOf(4);
  std::string sealed = Encrypt(key, RandomBytes(3 * kChunk, 2));
  for (size_t len = 0; len < sealed.size(); ++len) {
    ASSERT_STATUS(Decrypt(key, sealed.substr(0, len)), ErrorCode::kCorrupt) << "length " << len;
  }
}

// Cut exactly after a whole chunk: every remaining chunk is intact, only the final flag in the
// nonce tells that the stream did not end there.
TEST(AesGcmStream, TruncationAtChunkBoundaryIsNamed) {
  EncryptionKey key = KeyOf(4);
  std::string plain = RandomBytes(3 * kChunk + 1, 3);
  std::string sealed = Encrypt(key, plain);
  for (size_t chunks : {1, 2, 3}) {
    std::string out;
    Status s = Decrypt(key, sealed.substr(0, kEncHeaderSize + chunks * kSealed), &out);
    EXPECT_STATUS(s, ErrorCode::kCorrupt);
    EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.ToString();
    // The chunks before the cut were authentic and released; the cut-off one was not.
    EXPECT_EQ(out, plain.substr(0, (chunks - 1) * kChunk));
  }
}

TEST(AesGcmStream, HeaderOnlyOrEmptyTailIsTruncation) {
  EncryptionKey key = KeyOf(4);
  std::string sealed = Encrypt(key, "abc");
  Status s = Decrypt(key, sealed.substr(0, kEncHeaderSize));
  EXPECT_STATUS(s, ErrorCode::kCorrupt);
  EXPECT_NE(s.message().find("no chunk"), std::string::npos) << s.ToString();
  EXPECT_STATUS(Decrypt(key, ""), ErrorCode::kCorrupt);
}

TEST(AesGcmStream, ReorderedDuplicatedOrDroppedChunksAreDetected) {
  EncryptionKey key = KeyOf(5);
  std::string sealed = Encrypt(key, RandomBytes(3 * kChunk + 5, 4));  // chunks 0..3
  std::string head = sealed.substr(0, kEncHeaderSize);
  std::string c0 = ChunkAt(sealed, 0), c1 = ChunkAt(sealed, 1), c2 = ChunkAt(sealed, 2);
  std::string last = sealed.substr(kEncHeaderSize + 3 * kSealed);
  EXPECT_STATUS(Decrypt(key, head + c1 + c0 + c2 + last), ErrorCode::kCorrupt) << "swapped";
  EXPECT_STATUS(Decrypt(key, head + c0 + c0 + c1 + c2 + last), ErrorCode::kCorrupt) << "dup";
  EXPECT_STATUS(Decrypt(key, head + c0 + c2 + last), ErrorCode::kCorrupt) << "dropped";
  EXPECT_STATUS(Decrypt(key, head + c0 + c1 + c2 + c2 + last), ErrorCode::kCorrupt) << "dup";
  ASSERT_OK(Decrypt(key, head + c0 + c1 + c2 + last));
}

TEST(AesGcmStream, ChunkFromAnotherFileIsRefused) {
  EncryptionKey key = KeyOf(5);
  std::string a = Encrypt(key, RandomBytes(2 * kChunk, 6));
  std::string b = Encrypt(key, RandomBytes(2 * kChunk, 7));
  std::string spliced = a.substr(0, kEncHeaderSize) + ChunkAt(b, 0) + ChunkAt(a, 1);
  EXPECT_STATUS(Decrypt(key, spliced), ErrorCode::kCorrupt);
}

TEST(AesGcmStream, TrailingDataIsDetected) {
  EncryptionKey key = KeyOf(6);
  for (size_t size : {size_t{10}, size_t{2 * kChunk}}) {
    std::string sealed = Encrypt(key, RandomBytes(size, 8));
    for (std::string tail : {std::string(1, '\0'), std::string(100, 'x'), ChunkAt(sealed, 0)}) {
      EXPECT_STATUS(Decrypt(key, sealed + tail), ErrorCode::kCorrupt)
          << "size " << size << " tail " << tail.size();
    }
  }
  // Whole final chunk followed by junk: named precisely.
  std::string sealed = Encrypt(key, RandomBytes(2 * kChunk, 9));
  Status s = Decrypt(key, sealed + "junk");
  EXPECT_NE(s.message().find("trailing data"), std::string::npos) << s.ToString();
}

TEST(AesGcmStream, WrongKeyIsNamed) {
  std::string sealed = Encrypt(KeyOf(1), "secret model");
  Status s = Decrypt(KeyOf(2), sealed);
  EXPECT_STATUS(s, ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("wrong key"), std::string::npos) << s.ToString();
}

// The key id is a hint, not the protection: a header rewritten to name the wrong key still fails
// authentication (the header is AAD and the subkey differs).
TEST(AesGcmStream, WrongKeyWithForgedKeyIdFailsAuthentication) {
  EncryptionKey right = KeyOf(1), wrong = KeyOf(2);
  std::string sealed = Encrypt(right, "secret model");
  std::copy(wrong.id().begin(), wrong.id().end(), sealed.begin() + kEncOffKeyId);
  std::string out;
  EXPECT_STATUS(Decrypt(wrong, sealed, &out), ErrorCode::kCorrupt);
  EXPECT_EQ(out, "");
}

TEST(AesGcmStream, ReleasesOnlyVerifiedChunks) {
  EncryptionKey key = KeyOf(8);
  std::string plain = RandomBytes(3 * kChunk, 10);
  std::string sealed = Encrypt(key, plain);
  sealed[kEncHeaderSize + kSealed + 3] ^= 1;  // chunk 1's ciphertext
  std::string out;
  EXPECT_STATUS(Decrypt(key, sealed, &out, sealed.size()), ErrorCode::kCorrupt);
  EXPECT_EQ(out, plain.substr(0, kChunk));
}

TEST(AesGcmStream, ErrorsAreSticky) {
  EncryptionKey key = KeyOf(8);
  std::string sealed = Encrypt(key, RandomBytes(3 * kChunk, 11));
  sealed[kEncHeaderSize] ^= 1;
  auto dec = Decryptor::Create(key, [](const uint8_t*, size_t) { return Status::Ok(); });
  ASSERT_TRUE(dec.ok());
  EXPECT_STATUS((*dec)->Update(sealed.data(), sealed.size()), ErrorCode::kCorrupt);
  EXPECT_STATUS((*dec)->Update(sealed.data(), 1), ErrorCode::kCorrupt);
  EXPECT_STATUS((*dec)->Finish(), ErrorCode::kCorrupt);
}

// After a failure the Encryptor returns that same error again (as documented), not another one.
TEST(AesGcmStream, EncryptorRepeatsItsFirstError) {
  EncryptionKey key = KeyOf(8);
  int calls = 0;
  auto enc = Encryptor::Create(
      key,
      [&](const uint8_t*, size_t) { return ++calls == 2 ? IoError("disk full") : Status::Ok(); },
      kChunk);
  ASSERT_TRUE(enc.ok());
  const std::string plain = RandomBytes(3 * kChunk, 13);
  Status first = (*enc)->Update(plain.data(), plain.size());
  ASSERT_STATUS(first, ErrorCode::kIo);
  EXPECT_EQ((*enc)->Update(plain.data(), 1).ToString(), first.ToString());
  EXPECT_EQ((*enc)->Finish().ToString(), first.ToString());
  // An error in Finish() is repeated the same way.
  auto fin = Encryptor::Create(
      key, [&](const uint8_t*, size_t) { return IoError("disk gone"); }, kChunk);
  ASSERT_TRUE(fin.ok());
  Status at_finish = (*fin)->Finish();
  ASSERT_STATUS(at_finish, ErrorCode::kIo);
  EXPECT_EQ((*fin)->Update(plain.data(), 1).ToString(), at_finish.ToString());
  EXPECT_EQ((*fin)->Finish().ToString(), at_finish.ToString());
}

TEST(AesGcmStream, SinkErrorStopsTheStream) {
  EncryptionKey key = KeyOf(8);
  std::string sealed = Encrypt(key, RandomBytes(3 * kChunk, 12));
  auto dec = Decryptor::Create(key, [](const uint8_t*, size_t) { return IoError("disk full"); });
  ASSERT_TRUE(dec.ok());
  EXPECT_STATUS((*dec)->Update(sealed.data(), sealed.size()), ErrorCode::kIo);
  EXPECT_STATUS((*dec)->Finish(), ErrorCode::kIo);
}

}  // namespace
}  // namespace oxide::crypto
