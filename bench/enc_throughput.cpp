// In-memory AES-256-GCM stream throughput (no disk): 1 GiB of random plaintext through the
// Encryptor into a discarding sink, then through an Encryptor whose output feeds a Decryptor.
// Separates the cipher's cost from the file I/O that bench/encrypt_bench.sh measures with it.
// Usage: enc_throughput [MiB] (default 1024)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "crypto/aes_gcm_stream.hpp"

namespace {

using oxide::Status;
using namespace oxide::crypto;  // NOLINT: local to the program

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1024;
  std::vector<uint8_t> block(8u << 20);  // fed 8 MiB at a time, reused
  std::mt19937_64 rng(1);
  for (auto& b : block) b = static_cast<uint8_t>(rng());
  const size_t blocks = mib / 8;
  const double mb = static_cast<double>(blocks * block.size()) / 1e6;
  auto key = EncryptionKey::Generate();
  if (!key.ok()) return 1;

  uint64_t sealed = 0;
  auto enc = Encryptor::Create(*key, [&](const uint8_t*, size_t n) {
    sealed += n;
    return Status::Ok();
  });
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < blocks; ++i) {
    if (!(*enc)->Update(block.data(), block.size()).ok()) return 1;
  }
  if (!(*enc)->Finish().ok()) return 1;
  double enc_s = Seconds(t0);

  uint64_t opened = 0;
  auto dec = Decryptor::Create(*key, [&](const uint8_t*, size_t n) {
    opened += n;
    return Status::Ok();
  });
  auto pipe =
      Encryptor::Create(*key, [&](const uint8_t* p, size_t n) { return (*dec)->Update(p, n); });
  t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < blocks; ++i) {
    if (!(*pipe)->Update(block.data(), block.size()).ok()) return 1;
  }
  if (!(*pipe)->Finish().ok() || !(*dec)->Finish().ok()) return 1;
  double both_s = Seconds(t0);
  if (opened != blocks * block.size()) return 1;

  std::printf("in-memory, %.0f MB, 64 KiB chunks, one thread\n", mb);
  std::printf("encrypt            %6.2f s  %6.0f MB/s\n", enc_s, mb / enc_s);
  std::printf("encrypt+decrypt    %6.2f s  %6.0f MB/s\n", both_s, mb / both_s);
  std::printf("decrypt (derived)  %6.2f s  %6.0f MB/s\n", both_s - enc_s, mb / (both_s - enc_s));
  return 0;
}
