#include "crypto/encrypted_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <vector>

#include "base/file_util.hpp"
#include "crypto/aes_gcm_stream.hpp"

namespace oxide::crypto {
namespace {

constexpr size_t kReadBlock = 1u << 20;

Status CheckPaths(const std::string& in, const std::string& out, bool overwrite) {
  struct stat in_st, out_st;
  if (::stat(in.c_str(), &in_st) != 0) {
    if (errno == ENOENT) return NotFound(in + " not found");
    return ErrnoError("stat " + in, errno);
  }
  if (!S_ISREG(in_st.st_mode)) return InvalidArgument(in + " is not a regular file");
  if (::stat(out.c_str(), &out_st) == 0) {
    if (out_st.st_dev == in_st.st_dev && out_st.st_ino == in_st.st_ino) {
      return InvalidArgument("output " + out + " is the input file; choose another -o");
    }
    if (!overwrite) return FailedPrecondition(out + " exists (use --force to replace it)");
  } else if (::lstat(out.c_str(), &out_st) == 0 && !overwrite) {
    return FailedPrecondition(out + " exists (use --force to replace it)");  // dangling symlink
  }
  return Status::Ok();
}

// Streams `in` through `push` in kReadBlock pieces; memory stays one block.
template <class Push>
Status StreamFile(const ReadableFile& in, Push push) {
  std::vector<uint8_t> block(kReadBlock);
  for (uint64_t off = 0; off < in.size();) {
    OXIDE_ASSIGN_OR_RETURN(size_t n, in.ReadAt(off, block.data(), block.size()));
    if (n == 0) return IoError("input file shrank while it was read");
    OXIDE_RETURN_IF_ERROR(push(block.data(), n));
    off += n;
  }
  return Status::Ok();
}

}  // namespace

Result<CryptFileStats> EncryptFile(const std::string& in, const std::string& out,
                                   const EncryptionKey& key, const CryptFileOptions& options) {
  OXIDE_RETURN_IF_ERROR(CheckPaths(in, out, options.overwrite));
  OXIDE_ASSIGN_OR_RETURN(auto src, ReadableFile::Open(in));
  OXIDE_ASSIGN_OR_RETURN(auto dst, AtomicFileWriter::Create(out));
  AtomicFileWriter* w = dst.get();
  OXIDE_ASSIGN_OR_RETURN(
      auto enc,
      Encryptor::Create(
          key, [w](const uint8_t* p, size_t n) { return w->Append(p, n); }, options.chunk_size));
  OXIDE_RETURN_IF_ERROR(
      StreamFile(*src, [&](const uint8_t* p, size_t n) { return enc->Update(p, n); }));
  OXIDE_RETURN_IF_ERROR(enc->Finish());
  CryptFileStats stats{src->size(), w->bytes_written()};
  OXIDE_RETURN_IF_ERROR(w->Commit());
  return stats;
}

Result<CryptFileStats> DecryptFile(const std::string& in, const std::string& out,
                                   const EncryptionKey& key, const CryptFileOptions& options) {
  OXIDE_RETURN_IF_ERROR(CheckPaths(in, out, options.overwrite));
  OXIDE_ASSIGN_OR_RETURN(auto src, ReadableFile::Open(in));
  // Check the header and its key id before creating anything, so a wrong key or a
  // non-encrypted input fails without touching the output directory (even an unwritable one).
  std::string head(std::min<uint64_t>(src->size(), kEncHeaderSize), '\0');
  OXIDE_RETURN_IF_ERROR(src->ReadExactAt(0, head.data(), head.size()));
  auto header = ParseHeader(head);
  if (!header.ok()) return std::move(header).status().WithContext(in);
  if (header->key_id != key.id()) {
    return FailedPrecondition("wrong key: " + in + " was encrypted with key id " +
                              KeyIdHex(header->key_id) + ", the key given has id " + key.IdHex());
  }
  OXIDE_ASSIGN_OR_RETURN(auto dst, AtomicFileWriter::Create(out));
  AtomicFileWriter* w = dst.get();
  OXIDE_ASSIGN_OR_RETURN(auto dec, Decryptor::Create(key, [w](const uint8_t* p, size_t n) {
                           return w->Append(p, n);
                         }));
  Status s = StreamFile(*src, [&](const uint8_t* p, size_t n) { return dec->Update(p, n); });
  if (s.ok()) s = dec->Finish();
  // On error `dst` dies uncommitted and removes its temp file: nothing appears at `out`.
  if (!s.ok()) return std::move(s).WithContext(in);
  CryptFileStats stats{src->size(), w->bytes_written()};
  OXIDE_RETURN_IF_ERROR(w->Commit());
  return stats;
}

}  // namespace oxide::crypto
