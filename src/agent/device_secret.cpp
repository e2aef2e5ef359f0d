#include "agent/device_secret.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "base/file_util.hpp"
#include "base/sha256.hpp"
#include "crypto/base64.hpp"

namespace oxide::agent {
namespace {

constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

Result<std::string> NewSecret() {
  unsigned char raw[32] = {};
  if (RAND_bytes(raw, 32) != 1) return Internal("RAND_bytes failed: no secure random source");
  std::string out =
      crypto::Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(raw), sizeof(raw)));
  OPENSSL_cleanse(raw, sizeof(raw));
  return out;  // 43 characters: 256 bits, unpadded
}

}  // namespace

std::string CredentialFingerprint(const std::string& secret) {
  return ToHex(Sha256::Of(secret.data(), secret.size())).substr(0, 16);
}

Result<std::string> LoadOrCreateDeviceSecret(FileSystem& fs, const std::string& state_dir) {
  const std::string path = state_dir + "/device.secret";
  auto existing = fs.ReadFile(path, 4096);
  if (existing.ok()) {
    std::string s = *existing;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    if (s.size() < 32 || s.find_first_not_of(kBase64Url) != std::string::npos) {
      return Corrupt(path + " does not hold a device secret (remove it to enroll again)");
    }
    return s;
  }
  if (existing.status().code() != ErrorCode::kNotFound) return existing.status();
  OXIDE_ASSIGN_OR_RETURN(std::string secret, NewSecret());
  const std::string tmp = UniqueTempName(path + ".tmp");
  {
    OXIDE_ASSIGN_OR_RETURN(auto f, fs.CreatePrivate(tmp));
    const std::string line = secret + "\n";
    Status st = f->Append(line.data(), line.size());
    if (st.ok()) st = f->Sync();
    if (!st.ok()) {
      static_cast<void>(fs.Remove(tmp));
      return st;
    }
  }
  if (Status st = fs.Rename(tmp, path); !st.ok()) {
    static_cast<void>(fs.Remove(tmp));
    return st;
  }
  OXIDE_RETURN_IF_ERROR(fs.SyncDir(state_dir));
  return secret;
}

}  // namespace oxide::agent
