#include "crypto/ed25519.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cstdio>

#include "base/file_util.hpp"
#include "base/scope_exit.hpp"
#include "base/sha256.hpp"

namespace oxide::crypto {

struct SigningKey::Pkey {
  EVP_PKEY* key = nullptr;
  ~Pkey() { EVP_PKEY_free(key); }
};

namespace {

constexpr size_t kMaxPemSize = 16 << 10;

Result<PublicKey> RawPublicKey(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) return InvalidArgument("not an Ed25519 key");
  PublicKey pub{};
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(key, pub.data(), &len) != 1 || len != pub.size()) {
    return Internal("cannot read the Ed25519 public key");
  }
  return pub;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr MemBio(std::string_view text) {
  if (text.size() > kMaxPemSize) return BioPtr();
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

}  // namespace

std::string KeyId(const PublicKey& key) { return ToHex(Sha256::Of(key.data(), key.size())); }

Result<SigningKey> SigningKey::Generate() {
  auto pkey = std::make_shared<Pkey>();
  pkey->key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (pkey->key == nullptr) return Internal("Ed25519 key generation failed");
  OXIDE_ASSIGN_OR_RETURN(PublicKey pub, RawPublicKey(pkey->key));
  return SigningKey(std::move(pkey), pub);
}

Result<SigningKey> SigningKey::FromPem(std::string_view pem) {
  BioPtr bio = MemBio(pem);
  if (!bio) return InvalidArgument("private key PEM too large");
  auto pkey = std::make_shared<Pkey>();
  pkey->key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (pkey->key == nullptr) return InvalidArgument("not a PEM private key");
  auto pub = RawPublicKey(pkey->key);
  if (!pub.ok()) return InvalidArgument("the private key is not an Ed25519 key");
  return SigningKey(std::move(pkey), *pub);
}

Result<SigningKey> SigningKey::ReadPemFile(const std::string& path) {
  OXIDE_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path, kMaxPemSize));
  auto key = FromPem(pem);
  if (!key.ok()) return std::move(key).status().WithContext(path);
  return key;
}

std::string SigningKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), pkey_->key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return std::string();
  }
  return BioText(bio.get());
}

Status SigningKey::WritePemFile(const std::string& path) const {
  std::string pem = ToPem();
  if (pem.empty()) return Internal("cannot encode the private key");
  // Created 0600 with O_EXCL under a fresh name, so the key is never readable by others, not
  // even between create and chmod.
  std::string tmp = UniqueTempName(path + ".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("create " + tmp, errno);
  bool keep = false;
  ScopeExit cleanup([&] {
    if (!keep) ::unlink(tmp.c_str());
  });
  Status st = WriteAll(fd, pem.data(), pem.size(), tmp);
  if (st.ok() && ::fsync(fd) != 0) st = ErrnoError("fsync " + tmp, errno);
  if (::close(fd) != 0 && st.ok()) st = ErrnoError("close " + tmp, errno);
  OXIDE_RETURN_IF_ERROR(st);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("rename to " + path, errno);
  keep = true;
  return SyncParentDir(path);
}

Result<std::string> SigningKey::Sign(std::string_view message) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return Internal("EVP_MD_CTX_new failed");
  ScopeExit free_ctx([&] { EVP_MD_CTX_free(ctx); });
  std::string sig(kSignatureSize, '\0');
  size_t len = sig.size();
  if (EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, pkey_->key) != 1 ||
      EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      len != kSignatureSize) {
    return Internal("Ed25519 signing failed");
  }
  return sig;
}

Result<PublicKey> PublicKeyFromPem(std::string_view pem) {
  if (pem.find("PRIVATE KEY-----") != std::string_view::npos) {
    OXIDE_ASSIGN_OR_RETURN(SigningKey key, SigningKey::FromPem(pem));
    return key.public_key();
  }
  BioPtr bio = MemBio(pem);
  if (!bio) return InvalidArgument("public key PEM too large");
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) return InvalidArgument("not a PEM public or private key");
  ScopeExit free_key([&] { EVP_PKEY_free(key); });
  auto pub = RawPublicKey(key);
  if (!pub.ok()) return InvalidArgument("the public key is not an Ed25519 key");
  return pub;
}

std::string PublicKeyToPem(const PublicKey& raw) {
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw.data(), raw.size());
  if (key == nullptr) return std::string();
  ScopeExit free_key([&] { EVP_PKEY_free(key); });
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) return std::string();
  return BioText(bio.get());
}

bool Verify(const PublicKey& raw, std::string_view message, std::string_view signature) {
  if (signature.size() != kSignatureSize) return false;
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw.data(), raw.size());
  if (key == nullptr) return false;
  ScopeExit free_key([&] { EVP_PKEY_free(key); });
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return false;
  ScopeExit free_ctx([&] { EVP_MD_CTX_free(ctx); });
  return EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
         EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

std::string Pae(std::string_view payload_type, std::string_view payload) {
  std::string out = "DSSEv1 ";
  out += std::to_string(payload_type.size());
  out += ' ';
  out += payload_type;
  out += ' ';
  out += std::to_string(payload.size());
  out += ' ';
  out += payload;
  return out;
}

}  // namespace oxide::crypto
