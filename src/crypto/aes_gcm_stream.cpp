#include "crypto/aes_gcm_stream.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "crypto/chunk_cipher.hpp"

namespace oxide::crypto {
namespace {

std::string ChunkName(uint64_t index) { return "chunk " + std::to_string(index); }

}  // namespace

// ---- Encryptor ----

Result<std::unique_ptr<Encryptor>> Encryptor::Create(const EncryptionKey& key, ByteSink sink,
                                                     uint32_t chunk_size) {
  if (chunk_size < kEncMinChunkSize || chunk_size > kEncMaxChunkSize) {
    return InvalidArgument("chunk size " + std::to_string(chunk_size) + " outside [" +
                           std::to_string(kEncMinChunkSize) + ", " +
                           std::to_string(kEncMaxChunkSize) + "]");
  }
  EncHeader h;
  h.chunk_size = chunk_size;
  h.key_id = key.id();
  if (RAND_bytes(h.salt.data(), static_cast<int>(h.salt.size())) != 1 ||
      RAND_bytes(h.nonce_prefix.data(), static_cast<int>(h.nonce_prefix.size())) != 1) {
    return Internal("RAND_bytes failed: the random generator is not seeded");
  }
  OXIDE_ASSIGN_OR_RETURN(auto cipher, ChunkCipher::Create(key, h, SerializeHeader(h), true));
  return std::unique_ptr<Encryptor>(new Encryptor(h, std::move(cipher), std::move(sink)));
}

Encryptor::Encryptor(EncHeader header, std::unique_ptr<ChunkCipher> cipher, ByteSink sink)
    : header_(header),
      header_bytes_(SerializeHeader(header)),
      cipher_(std::move(cipher)),
      sink_(std::move(sink)) {
  // Fixed size for the stream's life (plain_len_ says how much is used), so the wipe below covers
  // every byte that ever held plaintext.
  plain_.resize(header_.chunk_size);
  out_.resize(header_.chunk_size + kEncTagSize);
}

Encryptor::~Encryptor() { OPENSSL_cleanse(plain_.data(), plain_.size()); }

Status Encryptor::EmitHeaderOnce() {
  if (header_sent_) return Status::Ok();
  header_sent_ = true;
  return sink_(header_bytes_.data(), header_bytes_.size());
}

Status Encryptor::SealBuffered(bool is_final) {
  if (next_chunk_ >= kEncMaxChunks) {
    return ResourceExhausted("input needs more than 2^32 chunks; use a larger chunk size");
  }
  OXIDE_RETURN_IF_ERROR(cipher_->Seal(static_cast<uint32_t>(next_chunk_), is_final, plain_.data(),
                                      plain_len_, out_.data()));
  ++next_chunk_;
  size_t n = plain_len_ + kEncTagSize;
  plain_len_ = 0;
  return sink_(out_.data(), n);
}

Status Encryptor::Update(const void* data, size_t n) {
  if (!error_.ok()) return error_;
  if (done_) return FailedPrecondition("encryptor already finished");
  Status s = EmitHeaderOnce();
  const auto* p = static_cast<const uint8_t*>(data);
  while (s.ok() && n > 0) {
    // A full buffer is sealed only once more input shows it is not the last chunk.
    if (plain_len_ == header_.chunk_size) {
      s = SealBuffered(false);
      if (!s.ok()) break;
    }
    size_t take = std::min(n, header_.chunk_size - plain_len_);
    std::memcpy(plain_.data() + plain_len_, p, take);
    plain_len_ += take;
    p += take;
    n -= take;
  }
  if (!s.ok()) error_ = s;
  return s;
}

Status Encryptor::Finish() {
  if (!error_.ok()) return error_;
  if (done_) return FailedPrecondition("encryptor already finished");
  done_ = true;
  Status s = EmitHeaderOnce();
  if (s.ok()) s = SealBuffered(true);
  if (!s.ok()) error_ = s;
  return s;
}

// ---- Decryptor ----

Result<std::unique_ptr<Decryptor>> Decryptor::Create(const EncryptionKey& key, ByteSink sink) {
  return std::unique_ptr<Decryptor>(new Decryptor(key, std::move(sink)));
}

Decryptor::Decryptor(const EncryptionKey& key, ByteSink sink) : key_(key), sink_(std::move(sink)) {}

Decryptor::~Decryptor() { OPENSSL_cleanse(plain_.data(), plain_.size()); }

Status Decryptor::Fail(Status s) {
  error_ = s;
  return s;
}

Status Decryptor::OpenBuffered(bool is_final) {
  if (next_chunk_ >= kEncMaxChunks) return Fail(Corrupt("more than 2^32 chunks"));
  const auto index = static_cast<uint32_t>(next_chunk_);
  size_t ct = cipher_buf_.size() - kEncTagSize;
  // Grown as chunks arrive (a hostile header's chunk size costs nothing up front), never shrunk:
  // the destructor's wipe covers every byte that held plaintext, also after a short last chunk.
  GrowPlainBuffer(plain_, ct);
  if (!cipher_->Open(index, is_final, cipher_buf_.data(), cipher_buf_.size(), plain_.data())) {
    // Name the cheap-to-tell cases: the same chunk sealed with the other final flag means the
    // file was cut right after it, or data follows the real last chunk.
    if (cipher_->Open(index, !is_final, cipher_buf_.data(), cipher_buf_.size(), plain_.data())) {
      return Fail(Corrupt(is_final
                              ? "truncated: the file ends after " + ChunkName(index) +
                                    ", which was not written as the last chunk"
                              : "trailing data after the final chunk (" + ChunkName(index) + ")"));
    }
    return Fail(Corrupt(ChunkName(index) +
                        " failed authentication: the file was modified, truncated, reordered "
                        "or extended"));
  }
  ++next_chunk_;
  plaintext_bytes_ += ct;
  cipher_buf_.clear();
  if (ct == 0) return Status::Ok();
  Status s = sink_(plain_.data(), ct);
  return s.ok() ? s : Fail(s);
}

Status Decryptor::Update(const void* data, size_t n) {
  if (!error_.ok()) return error_;
  if (finished_) return FailedPrecondition("decryptor already finished");
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    if (cipher_ == nullptr) {
      size_t take = std::min(n, kEncHeaderSize - header_buf_.size());
      header_buf_.insert(header_buf_.end(), p, p + take);
      p += take;
      n -= take;
      if (header_buf_.size() < kEncHeaderSize) break;
      std::string_view hv(reinterpret_cast<const char*>(header_buf_.data()), header_buf_.size());
      auto h = ParseHeader(hv);
      if (!h.ok()) return Fail(std::move(h).status());
      header_ = *h;
      std::copy(header_buf_.begin(), header_buf_.end(), header_bytes_.begin());
      if (header_.key_id != key_.id()) {
        return Fail(FailedPrecondition("wrong key: the file was encrypted with key id " +
                                       KeyIdHex(header_.key_id) + ", the key given has id " +
                                       key_.IdHex()));
      }
      auto cipher = ChunkCipher::Create(key_, header_, header_bytes_, false);
      if (!cipher.ok()) return Fail(std::move(cipher).status());
      cipher_ = std::move(*cipher);
      continue;
    }
    const size_t cap = header_.chunk_size + kEncTagSize;
    // A full chunk is opened as non-final only once more input proves it is not the last.
    if (cipher_buf_.size() == cap) OXIDE_RETURN_IF_ERROR(OpenBuffered(false));
    size_t take = std::min(n, cap - cipher_buf_.size());
    cipher_buf_.insert(cipher_buf_.end(), p, p + take);
    p += take;
    n -= take;
  }
  return Status::Ok();
}

Status Decryptor::Finish() {
  if (!error_.ok()) return error_;
  if (finished_) return FailedPrecondition("decryptor already finished");
  finished_ = true;
  if (cipher_ == nullptr) {
    if (header_buf_.empty()) return Fail(Corrupt("empty input: not an Oxide encrypted file"));
    return Fail(Corrupt("truncated header: " + std::to_string(header_buf_.size()) + " of " +
                        std::to_string(kEncHeaderSize) + " bytes"));
  }
  if (cipher_buf_.empty()) return Fail(Corrupt("truncated: no chunk after the header"));
  if (cipher_buf_.size() < kEncTagSize) {
    return Fail(Corrupt("truncated: the last chunk is shorter than its tag"));
  }
  return OpenBuffered(true);
}

}  // namespace oxide::crypto
