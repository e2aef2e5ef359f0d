#include "base/sha256.hpp"

#include <openssl/evp.h>

#include <cstdio>

#include "base/file_util.hpp"

namespace oxide {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
}

Sha256::~Sha256() = default;

void Sha256::Update(const void* data, size_t n) {
  if (n > 0) EVP_DigestUpdate(ctx_->md, data, n);
}

Digest Sha256::Finish() {
  Digest d{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, d.data(), &len);
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
  return d;
}

Digest Sha256::Of(const void* data, size_t n) {
  Sha256 h;
  h.Update(data, n);
  return h.Finish();
}

std::string ToHex(const Digest& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(64, '0');
  for (size_t i = 0; i < d.size(); ++i) {
    out[2 * i] = kHex[d[i] >> 4];
    out[2 * i + 1] = kHex[d[i] & 0xf];
  }
  return out;
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

Result<Digest> DigestFromHex(std::string_view hex) {
  if (hex.size() != 64) return InvalidArgument("sha256 must be 64 hex characters");
  Digest d{};
  for (size_t i = 0; i < 32; ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgument("sha256 contains a non-hex character");
    d[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return d;
}

Result<Digest> Sha256File(const std::string& path) {
  OXIDE_ASSIGN_OR_RETURN(auto file, ReadableFile::Open(path));
  Sha256 h;
  std::string buf(1 << 20, '\0');
  uint64_t off = 0;
  for (;;) {
    OXIDE_ASSIGN_OR_RETURN(size_t n, file->ReadAt(off, buf.data(), buf.size()));
    if (n == 0) break;
    h.Update(buf.data(), n);
    off += n;
  }
  return h.Finish();
}

}  // namespace oxide
