#include "crypto/encrypted_reader.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

#include "crypto/chunk_cipher.hpp"

namespace oxide::crypto {

Result<std::unique_ptr<EncryptedFileReader>> EncryptedFileReader::Open(const std::string& path,
                                                                       const EncryptionKey& key) {
  std::unique_ptr<EncryptedFileReader> r(new EncryptedFileReader());
  r->path_ = path;
  OXIDE_ASSIGN_OR_RETURN(r->file_, ReadableFile::Open(path));
  const uint64_t file_size = r->file_->size();
  std::string head(std::min<uint64_t>(file_size, kEncHeaderSize), '\0');
  OXIDE_RETURN_IF_ERROR(r->file_->ReadExactAt(0, head.data(), head.size()));
  OXIDE_ASSIGN_OR_RETURN(r->header_, ParseHeader(head));
  if (r->header_.key_id != key.id()) {
    return FailedPrecondition("wrong key: " + path + " was encrypted with key id " +
                              KeyIdHex(r->header_.key_id) + ", the key given has id " +
                              key.IdHex());
  }
  EncHeaderBytes header_bytes;
  std::memcpy(header_bytes.data(), head.data(), header_bytes.size());
  // The layout from the size alone: full chunks, then a final one with a tag and (unless it is
  // the only chunk) at least one byte.
  const uint64_t body = file_size - kEncHeaderSize;
  const uint64_t unit = uint64_t{r->header_.chunk_size} + kEncTagSize;
  const uint64_t chunks = body == 0 ? 0 : (body + unit - 1) / unit;
  const uint64_t last = body - (chunks == 0 ? 0 : (chunks - 1) * unit);
  if (chunks == 0 || last < kEncTagSize || (chunks > 1 && last == kEncTagSize)) {
    return Corrupt(path + ": truncated: " + std::to_string(file_size) +
                   " bytes is not a whole number of chunks");
  }
  if (chunks > kEncMaxChunks) return Corrupt(path + ": more than 2^32 chunks");
  r->chunks_ = chunks;
  r->plaintext_size_ = body - chunks * kEncTagSize;
  OXIDE_ASSIGN_OR_RETURN(r->cipher_, ChunkCipher::Create(key, r->header_, header_bytes, false));
  return r;
}

EncryptedFileReader::~EncryptedFileReader() { OPENSSL_cleanse(plain_.data(), plain_.size()); }

Status EncryptedFileReader::LoadChunk(uint64_t index) {
  if (cached_ == index) return Status::Ok();
  const uint64_t unit = uint64_t{header_.chunk_size} + kEncTagSize;
  const uint64_t offset = kEncHeaderSize + index * unit;
  const bool is_final = index + 1 == chunks_;
  const size_t n = static_cast<size_t>(is_final ? file_->size() - offset : unit);
  sealed_.resize(n);
  GrowPlainBuffer(plain_, n - kEncTagSize);  // never shrunk: the destructor wipes it all
  cached_ = UINT64_MAX;
  OXIDE_RETURN_IF_ERROR(file_->ReadExactAt(offset, sealed_.data(), n));
  if (!cipher_->Open(static_cast<uint32_t>(index), is_final, sealed_.data(), n, plain_.data())) {
    return Corrupt(path_ + ": chunk " + std::to_string(index) +
                   " failed authentication: the file was modified, truncated, reordered or "
                   "extended");
  }
  cached_ = index;
  cached_size_ = n - kEncTagSize;
  return Status::Ok();
}

Status EncryptedFileReader::ReadAt(uint64_t offset, void* dst, size_t n) {
  if (offset > plaintext_size_ || n > plaintext_size_ - offset) {
    return InvalidArgument(path_ + ": read past the end of the plaintext");
  }
  auto* out = static_cast<uint8_t*>(dst);
  const uint64_t chunk = header_.chunk_size;
  while (n > 0) {
    const uint64_t index = offset / chunk;
    OXIDE_RETURN_IF_ERROR(LoadChunk(index));
    const size_t in_chunk = static_cast<size_t>(offset - index * chunk);
    const size_t take = std::min(n, cached_size_ - in_chunk);
    std::memcpy(out, plain_.data() + in_chunk, take);
    out += take;
    offset += take;
    n -= take;
  }
  return Status::Ok();
}

}  // namespace oxide::crypto
