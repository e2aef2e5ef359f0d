// oxide encrypt / decrypt / enc-key generate: thin wrappers over src/crypto (the format and its
// checks live there, docs/format/encrypted-file.md).
#include <chrono>
#include <cstdio>

#include "cli/commands.hpp"
#include "crypto/encrypted_file.hpp"
#include "crypto/key_file.hpp"

namespace oxide::cli {
namespace {

constexpr std::string_view kEncSuffix = ".enc";
static_assert(EncryptArgs{}.chunk_size == crypto::kEncDefaultChunkSize);

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Status RunEncrypt(const EncryptArgs& a) {
  OXIDE_ASSIGN_OR_RETURN(auto key, crypto::LoadKeyFile(a.key_file));
  crypto::CryptFileOptions options;
  options.overwrite = a.force;
  options.chunk_size = a.chunk_size;  // --chunk-size 0 is refused (invalid_argument, exit 2)
  std::string out = a.out.empty() ? a.input + std::string(kEncSuffix) : a.out;
  auto t0 = std::chrono::steady_clock::now();
  OXIDE_ASSIGN_OR_RETURN(auto st, crypto::EncryptFile(a.input, out, key, options));
  std::printf("encrypted %s -> %s: %llu -> %llu bytes, key id %s, %.2f s\n", a.input.c_str(),
              out.c_str(), static_cast<unsigned long long>(st.input_bytes),
              static_cast<unsigned long long>(st.output_bytes), key.IdHex().c_str(),
              SecondsSince(t0));
  return Status::Ok();
}

Status RunDecrypt(const DecryptArgs& a) {
  std::string out = a.out;
  if (out.empty()) {
    // Unlike the reference (m.onnx.enc -> m.onnx.dec), give the model its name back; an
    // existing m.onnx is refused below unless --force.
    if (a.input.size() <= kEncSuffix.size() || !a.input.ends_with(kEncSuffix)) {
      return InvalidArgument(a.input + " does not end in .enc: name the output with -o");
    }
    out = a.input.substr(0, a.input.size() - kEncSuffix.size());
  }
  OXIDE_ASSIGN_OR_RETURN(auto key, crypto::LoadKeyFile(a.key_file));
  crypto::CryptFileOptions options;
  options.overwrite = a.force;
  auto t0 = std::chrono::steady_clock::now();
  OXIDE_ASSIGN_OR_RETURN(auto st, crypto::DecryptFile(a.input, out, key, options));
  std::printf("decrypted %s -> %s: %llu -> %llu bytes, every chunk authenticated, %.2f s\n",
              a.input.c_str(), out.c_str(), static_cast<unsigned long long>(st.input_bytes),
              static_cast<unsigned long long>(st.output_bytes), SecondsSince(t0));
  return Status::Ok();
}

Status RunEncKeyGenerate(const EncKeyGenerateArgs& a) {
  OXIDE_ASSIGN_OR_RETURN(auto key, crypto::EncryptionKey::Generate());
  OXIDE_RETURN_IF_ERROR(crypto::WriteKeyFile(a.out, key, a.force));
  std::printf("wrote encryption key %s (id %s, mode 0600): keep it secret, keep a backup\n",
              a.out.c_str(), key.IdHex().c_str());
  return Status::Ok();
}

}  // namespace oxide::cli
