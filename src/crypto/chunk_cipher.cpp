#include "crypto/chunk_cipher.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <algorithm>
#include <string_view>

namespace oxide::crypto {
namespace {

// HKDF "info": binds the subkey to this format and use, so the master key's other uses (none
// today) can never produce the same subkey.
constexpr std::string_view kHkdfInfo = "oxide encrypted file v1: AES-256-GCM chunk key";

// Fetched once (TOOLCHAIN P29: an implicit fetch per init is slow). Never freed: process-wide.
const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

Status DeriveSubkey(const EncryptionKey& master, const EncHeader& h,
                    std::array<uint8_t, kEncKeySize>* out) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return Internal("OpenSSL has no HKDF");
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) return Internal("EVP_KDF_CTX_new failed");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(master.bytes().data()), master.bytes().size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(h.salt.data()),
                                        h.salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(kHkdfInfo.data()),
                                        kHkdfInfo.size()),
      OSSL_PARAM_construct_end()};
  int rc = EVP_KDF_derive(ctx, out->data(), out->size(), params);
  EVP_KDF_CTX_free(ctx);
  return rc == 1 ? Status::Ok() : Internal("HKDF derivation failed");
}

}  // namespace

Result<std::unique_ptr<ChunkCipher>> ChunkCipher::Create(const EncryptionKey& master,
                                                         const EncHeader& header,
                                                         const EncHeaderBytes& header_bytes,
                                                         bool encrypt) {
  if (Aes256Gcm() == nullptr) return Internal("OpenSSL has no AES-256-GCM");
  std::array<uint8_t, kEncKeySize> subkey;
  OXIDE_RETURN_IF_ERROR(DeriveSubkey(master, header, &subkey));
  std::unique_ptr<ChunkCipher> c(new ChunkCipher(header, header_bytes));
  c->ctx_ = EVP_CIPHER_CTX_new();
  int ok = c->ctx_ != nullptr && EVP_CipherInit_ex2(c->ctx_, Aes256Gcm(), subkey.data(), nullptr,
                                                    encrypt ? 1 : 0, nullptr) == 1;
  OPENSSL_cleanse(subkey.data(), subkey.size());
  if (!ok) return Internal("AES-256-GCM init failed");
  return c;
}

ChunkCipher::~ChunkCipher() { EVP_CIPHER_CTX_free(ctx_); }

Status ChunkCipher::Seal(uint32_t index, bool is_final, const uint8_t* in, size_t n, uint8_t* out) {
  int len = 0;
  if (!Start(index, is_final) ||
      (n > 0 && EVP_EncryptUpdate(ctx_, out, &len, in, static_cast<int>(n)) != 1) ||
      EVP_EncryptFinal_ex(ctx_, out + n, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, kEncTagSize, out + n) != 1) {
    return Internal("AES-256-GCM encryption failed");
  }
  return Status::Ok();
}

bool ChunkCipher::Open(uint32_t index, bool is_final, const uint8_t* in, size_t n, uint8_t* out) {
  size_t ct = n - kEncTagSize;
  int len = 0;
  return Start(index, is_final) &&
         (ct == 0 || EVP_DecryptUpdate(ctx_, out, &len, in, static_cast<int>(ct)) == 1) &&
         EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, kEncTagSize,
                             const_cast<uint8_t*>(in + ct)) == 1 &&
         EVP_DecryptFinal_ex(ctx_, out + ct, &len) == 1;
}

// New nonce (the key stays), then the header as AAD.
bool ChunkCipher::Start(uint32_t index, bool is_final) {
  auto nonce = ChunkNonce(header_, index, is_final);
  int len = 0;
  return EVP_CipherInit_ex2(ctx_, nullptr, nullptr, nonce.data(), -1, nullptr) == 1 &&
         EVP_CipherUpdate(ctx_, nullptr, &len, header_bytes_.data(),
                          static_cast<int>(header_bytes_.size())) == 1;
}

void GrowPlainBuffer(std::vector<uint8_t>& buf, size_t n) {
  n = std::max<size_t>(n, 1);
  if (buf.size() >= n) return;
  std::vector<uint8_t> bigger(n);
  OPENSSL_cleanse(buf.data(), buf.size());
  buf.swap(bigger);
}

}  // namespace oxide::crypto
