#pragma once

// SHA-256 of a byte stream computed on a second thread. The producer (a patch applier, which
// decodes at about a gigabyte a second) would otherwise spend a quarter of its time hashing its
// own output; here Update copies the bytes into one of two buffers and hands a full buffer to
// the hashing thread, which works while the producer makes the next one. Memory: two buffers.
// The thread and the second buffer come with the first full buffer, so inputs smaller than one
// buffer are hashed inline and cost neither; if no thread can be started the hashing stays on
// the caller's thread.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "base/sha256.hpp"

namespace oxide {

class PipelinedSha256 {
 public:
  explicit PipelinedSha256(size_t buffer_bytes = size_t{256} << 10);
  ~PipelinedSha256();  // stops and joins the hashing thread
  PipelinedSha256(const PipelinedSha256&) = delete;
  PipelinedSha256& operator=(const PipelinedSha256&) = delete;

  void Update(const void* data, size_t n);
  // The digest of everything passed to Update since the last Finish; the object is reset and
  // may be reused. Not thread-safe: one producer calls Update and Finish.
  Digest Finish();
  // Hashes on the calling thread from now on, as when no thread can be started (tests). Call
  // before the first Update or right after Finish.
  void HashInline() { inline_ = true; }

 private:
  void HandOff();  // gives the fill buffer to the hashing thread (waits for it to be free)
  void Run();
  void Stop();

  std::vector<uint8_t> fill_;
  size_t fill_len_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<uint8_t> busy_;  // guarded by mu_ while busy_full_
  size_t busy_len_ = 0;
  bool busy_full_ = false;
  bool done_ = false;
  bool inline_ = false;  // the producer's only: no hashing thread (none could be started)
  Sha256 hash_;          // the hashing thread's while it runs
  std::thread thread_;
};

}  // namespace oxide
