#include "agent/device_secret.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/file_util.hpp"
#include "base/posix_file_system.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::agent {
namespace {

TEST(DeviceSecret, CreatedOncePrivateAndReadBack) {
  oxide::testing::TempDir dir;
  PosixFileSystem fs;
  auto first = LoadOrCreateDeviceSecret(fs, dir.path());
  ASSERT_OK(first.status());
  EXPECT_EQ(first->size(), 43u);  // 32 bytes, unpadded base64url
  EXPECT_EQ(
      first->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(dir.File("device.secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = LoadOrCreateDeviceSecret(fs, dir.path());
  ASSERT_OK(again.status());
  EXPECT_EQ(*again, *first);
  oxide::testing::TempDir other;
  EXPECT_NE(*LoadOrCreateDeviceSecret(fs, other.path()), *first);
}

TEST(DeviceSecret, FingerprintIsWhatTheServerShows) {
  // The server's credential_fingerprint: the first 16 hex characters of SHA-256(secret).
  EXPECT_EQ(CredentialFingerprint("abc"), "ba7816bf8f01cfea");
  EXPECT_NE(CredentialFingerprint("abd"), CredentialFingerprint("abc"));
}

TEST(DeviceSecret, ACorruptFileIsRefusedNotReplaced) {
  oxide::testing::TempDir dir;
  PosixFileSystem fs;
  ASSERT_OK(AtomicWriteFile(dir.File("device.secret"), "short\n"));
  EXPECT_STATUS(LoadOrCreateDeviceSecret(fs, dir.path()).status(), ErrorCode::kCorrupt);
  EXPECT_EQ(*ReadFileToString(dir.File("device.secret")), "short\n");
}

TEST(AtomicWriteFile, ModeIsSetFromCreation) {
  oxide::testing::TempDir dir;
  ASSERT_OK(AtomicWriteFile(dir.File("admin.token"), "oxide_x\n", 0600));
  struct stat st {};
  ASSERT_EQ(::stat(dir.File("admin.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace oxide::agent
