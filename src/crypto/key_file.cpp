#include "crypto/key_file.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/file_util.hpp"
#include "base/scope_exit.hpp"
#include "base/sha256.hpp"

namespace oxide::crypto {
namespace {

constexpr std::string_view kKeyFileMagic = "oxide-encryption-key v1";
constexpr size_t kMaxKeyFileSize = 4096;

EncKeyId ComputeKeyId(const std::array<uint8_t, kEncKeySize>& key) {
  Sha256 h;
  h.Update(std::string_view("oxide encryption key id v1"));
  h.Update(key.data(), key.size());
  Digest d = h.Finish();
  EncKeyId id;
  std::copy(d.begin(), d.begin() + id.size(), id.begin());
  return id;
}

// Appends the hex digits of p[0, n) to `out` (no temporary: key bytes are hexed in place).
void AppendHex(const uint8_t* p, size_t n, std::string* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) {
    out->push_back(kDigits[p[i] >> 4]);
    out->push_back(kDigits[p[i] & 15]);
  }
}

std::string Hex(const uint8_t* p, size_t n) {
  std::string s;
  s.reserve(n * 2);
  AppendHex(p, n, &s);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool DecodeHex(std::string_view hex, uint8_t* out, size_t n) {
  if (hex.size() != n * 2) return false;
  for (size_t i = 0; i < n; ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

// A "name value" line: true and the value when the line names `name`.
bool LineValue(std::string_view line, std::string_view name, std::string_view* value) {
  if (line.size() <= name.size() || line.substr(0, name.size()) != name ||
      line[name.size()] != ' ') {
    return false;
  }
  *value = line.substr(name.size() + 1);
  return true;
}

}  // namespace

EncryptionKey::EncryptionKey(const std::array<uint8_t, kEncKeySize>& bytes)
    : bytes_(bytes), id_(ComputeKeyId(bytes)) {}

EncryptionKey::~EncryptionKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

EncryptionKey::EncryptionKey(const EncryptionKey& other) = default;
EncryptionKey& EncryptionKey::operator=(const EncryptionKey& other) = default;

Result<EncryptionKey> EncryptionKey::Generate() {
  std::array<uint8_t, kEncKeySize> bytes;
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return Internal("RAND_bytes failed: the random generator is not seeded");
  }
  EncryptionKey key(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return key;
}

std::string EncryptionKey::IdHex() const { return KeyIdHex(id_); }

std::string KeyIdHex(const EncKeyId& id) { return Hex(id.data(), id.size()); }

std::string FormatKeyFile(const EncryptionKey& key) {
  // One buffer reserved to its final size: concatenated temporaries would each leave a copy of
  // the key's hex digits in freed memory.
  std::string text;
  text.reserve(kKeyFileMagic.size() + 4 + 2 * key.id().size() + 5 + 2 * kEncKeySize + 1);
  text.append(kKeyFileMagic);
  text.append("\nid ");
  AppendHex(key.id().data(), key.id().size(), &text);
  text.append("\nkey ");
  AppendHex(key.bytes().data(), key.bytes().size(), &text);
  text.push_back('\n');
  return text;
}

Result<EncryptionKey> ParseKeyFile(std::string_view text) {
  // Exactly three lines, each ending in "\n" (a missing last newline is tolerated).
  std::string_view lines[3];
  size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      if (i != 2) return InvalidArgument("not an Oxide encryption key file (too few lines)");
      nl = text.size();
    }
    lines[i] = text.substr(pos, nl - pos);
    pos = nl == text.size() ? nl : nl + 1;
  }
  if (pos != text.size()) return InvalidArgument("key file has extra content after the key");
  if (lines[0] != kKeyFileMagic) {
    return InvalidArgument("not an Oxide encryption key file (first line is not '" +
                           std::string(kKeyFileMagic) + "')");
  }
  std::string_view id_hex, key_hex;
  EncKeyId id;
  if (!LineValue(lines[1], "id", &id_hex) || !DecodeHex(id_hex, id.data(), id.size())) {
    return InvalidArgument("key file: second line must be 'id <16 hex digits>'");
  }
  std::array<uint8_t, kEncKeySize> bytes;
  ScopeExit wipe([&] { OPENSSL_cleanse(bytes.data(), bytes.size()); });  // every return below
  if (!LineValue(lines[2], "key", &key_hex) || !DecodeHex(key_hex, bytes.data(), bytes.size())) {
    return InvalidArgument("key file: third line must be 'key <64 hex digits>' (32 bytes)");
  }
  EncryptionKey key(bytes);
  if (key.id() != id) {
    return InvalidArgument("key file: id " + std::string(id_hex) + " does not match the key (" +
                           key.IdHex() + "): the file is damaged");
  }
  return key;
}

Status WriteKeyFile(const std::string& path, const EncryptionKey& key, bool overwrite) {
  struct stat st;
  if (!overwrite && ::lstat(path.c_str(), &st) == 0) {
    return FailedPrecondition(path + " exists (use --force to replace it)");  // early, cheap
  }
  // Own temp + rename rather than AtomicFileWriter: the file must be 0600 from its creation,
  // never briefly readable by others.
  std::string tmp = UniqueTempName(path + ".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("create " + tmp, errno);
  bool done = false;
  ScopeExit cleanup([&] {
    if (fd >= 0) ::close(fd);
    if (!done) ::unlink(tmp.c_str());
  });
  std::string text = FormatKeyFile(key);
  Status s = WriteAll(fd, text.data(), text.size(), tmp);
  OPENSSL_cleanse(text.data(), text.size());
  OXIDE_RETURN_IF_ERROR(s);
  if (::fchmod(fd, 0600) != 0) return ErrnoError("chmod " + tmp, errno);  // umask-proof
  if (::fsync(fd) != 0) return ErrnoError("fsync " + tmp, errno);
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0) return ErrnoError("close " + tmp, errno);
  if (overwrite) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("rename to " + path, errno);
  } else {
    // Never rename() here: a key created at `path` since the check above (another
    // `enc-key generate`, an operator) would be destroyed. link() and RENAME_NOREPLACE fail
    // with EEXIST instead; the latter where the file system has no hard links (FAT).
    int placed = ::link(tmp.c_str(), path.c_str());
    if (placed == 0) {
      ::unlink(tmp.c_str());
    } else if (errno == EPERM || errno == EOPNOTSUPP) {
      placed = ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
    }
    if (placed != 0 && errno == EEXIST) {
      return FailedPrecondition(path + " exists (use --force to replace it)");
    }
    if (placed != 0) return ErrnoError("link " + tmp + " to " + path, errno);
  }
  done = true;
  return SyncParentDir(path);
}

Result<EncryptionKey> LoadKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ELOOP) {
    return FailedPrecondition("key file " + path + " is a symbolic link; give its real path");
  }
  if (fd < 0 && errno == ENOENT) return NotFound("key file " + path + " not found");
  if (fd < 0) return ErrnoError("open key file " + path, errno);
  ScopeExit close_fd([&] { ::close(fd); });
  // fstat on the opened descriptor: the checked file is the one read.
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError("stat " + path, errno);
  if (!S_ISREG(st.st_mode)) return FailedPrecondition("key file " + path + " is not a file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return FailedPrecondition("key file " + path + " has mode " + mode +
                              ": group/others may access it; run 'chmod 600 " + path + "'");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxKeyFileSize) {
    return InvalidArgument("key file " + path + " is too large to be a key file");
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  // Wiped on every return, and never resized: all of it may hold key digits.
  ScopeExit wipe([&] { OPENSSL_cleanse(text.data(), text.size()); });
  size_t got = 0;
  while (got < text.size()) {
    ssize_t r = ::read(fd, text.data() + got, text.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoError("read " + path, errno);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  auto key = ParseKeyFile(std::string_view(text.data(), got));
  if (!key.ok()) return std::move(key).status().WithContext(path);
  return key;
}

}  // namespace oxide::crypto
