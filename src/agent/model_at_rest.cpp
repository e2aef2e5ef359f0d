#include "agent/model_at_rest.hpp"

#include <openssl/crypto.h>

#include <array>
#include <vector>

#include "agent/model_check.hpp"
#include "base/file_util.hpp"
#include "crypto/aes_gcm_stream.hpp"
#include "crypto/encrypted_file.hpp"
#include "crypto/encrypted_reader.hpp"

namespace oxide::agent {
namespace {

class EncryptedBase final : public delta::BaseSource {
 public:
  explicit EncryptedBase(std::unique_ptr<crypto::EncryptedFileReader> reader)
      : reader_(std::move(reader)) {}
  ~EncryptedBase() override { OPENSSL_cleanse(whole_.data(), whole_.size()); }

  uint64_t size() const override { return reader_->size(); }
  Status ReadAt(uint64_t offset, void* dst, size_t n) const override {
    return reader_->ReadAt(offset, dst, n);  // the reader's chunk cache is its own business
  }
  Result<std::string_view> View() override {
    if (whole_.size() != reader_->size()) {
      whole_.resize(static_cast<size_t>(reader_->size()));
      OXIDE_RETURN_IF_ERROR(reader_->ReadAt(0, whole_.data(), whole_.size()));
    }
    return std::string_view(whole_);
  }

 private:
  // mutable through the pointer: BaseSource::ReadAt is const, the cache is not observable.
  std::unique_ptr<crypto::EncryptedFileReader> reader_;
  std::string whole_;
};

}  // namespace

Result<PlainDigest> HashEncryptedModel(const std::string& path, const crypto::EncryptionKey& key,
                                       const std::function<bool()>& should_stop) {
  OXIDE_ASSIGN_OR_RETURN(auto file, ReadableFile::Open(path));
  Sha256 h;
  PlainDigest out;
  OXIDE_ASSIGN_OR_RETURN(auto dec, crypto::Decryptor::Create(key, [&](const uint8_t* p, size_t n) {
                           h.Update(p, n);
                           out.size += n;
                           return Status::Ok();
                         }));
  std::vector<uint8_t> block(1u << 20);
  uint64_t unchecked = 0;
  for (uint64_t off = 0; off < file->size();) {
    if (unchecked >= kStopCheckBlock) {
      unchecked = 0;
      if (should_stop && should_stop()) return Cancelled("hashing stopped: agent stopping");
    }
    OXIDE_ASSIGN_OR_RETURN(size_t n, file->ReadAt(off, block.data(), block.size()));
    if (n == 0) return IoError(path + " shrank while it was read");
    OXIDE_RETURN_IF_ERROR(dec->Update(block.data(), n).WithContext(path));
    off += n;
    unchecked += n;
  }
  OXIDE_RETURN_IF_ERROR(dec->Finish().WithContext(path));
  out.sha256 = h.Finish();
  return out;
}

bool LooksEncrypted(const std::string& path) {
  auto file = ReadableFile::Open(path);
  if (!file.ok()) return false;
  std::array<uint8_t, crypto::kEncMagic.size()> head{};
  auto n = (*file)->ReadAt(0, head.data(), head.size());
  return n.ok() && *n == head.size() && head == crypto::kEncMagic;
}

uint64_t EncryptedModelSize(uint64_t plaintext_size) {
  return crypto::EncryptedSize(plaintext_size, crypto::CryptFileOptions{}.chunk_size);
}

Status EncryptModel(const std::string& in, const std::string& out,
                    const crypto::EncryptionKey& key) {
  crypto::CryptFileOptions options;
  options.overwrite = true;  // a staging file left by a crash is replaced
  return crypto::EncryptFile(in, out, key, options).status();
}

Result<std::unique_ptr<delta::BaseSource>> OpenEncryptedBase(const std::string& path,
                                                             const crypto::EncryptionKey& key) {
  OXIDE_ASSIGN_OR_RETURN(auto reader, crypto::EncryptedFileReader::Open(path, key));
  return std::unique_ptr<delta::BaseSource>(new EncryptedBase(std::move(reader)));
}

}  // namespace oxide::agent
