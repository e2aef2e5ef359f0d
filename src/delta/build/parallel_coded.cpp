#include "delta/build/parallel_coded.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "delta/base_source.hpp"
#include "delta/build/tensor_stream.hpp"
#include "delta/coded_decoder.hpp"
#include "delta/patch_format.hpp"

namespace oxide::delta::internal {

namespace {

using Kind = Segment::Kind;

// Pieces of at most `max` bytes (COPY too: the check after encoding reads what it copies).
std::vector<Segment> SplitLong(const std::vector<Segment>& segments, uint64_t max) {
  std::vector<Segment> out;
  out.reserve(segments.size());
  for (const Segment& s : segments) {
    if (s.length <= max) {
      out.push_back(s);
      continue;
    }
    for (uint64_t off = 0; off < s.length; off += max) {
      Segment piece = s;
      piece.target_offset = s.target_offset + off;
      piece.length = std::min(max, s.length - off);
      if (s.kind != Kind::kLiteral) piece.base_offset = s.base_offset + off;
      out.push_back(piece);
    }
  }
  return out;
}

struct Item {
  size_t begin = 0;  // pieces [begin, end)
  size_t end = 0;
};

// A long DELTA/LITERAL piece is an item of its own; the pieces between two of them form items
// of up to `max` bytes.
std::vector<Item> MakeItems(const std::vector<Segment>& pieces, uint64_t max) {
  std::vector<Item> items;
  size_t group = 0;
  uint64_t group_bytes = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const Segment& s = pieces[i];
    if (s.kind == Kind::kCopy || s.length < kMinCodedBytes) {
      if (group < i && group_bytes + s.length > max) {
        items.push_back({group, i});
        group = i;
        group_bytes = 0;
      }
      group_bytes += s.length;
      continue;
    }
    if (group < i) items.push_back({group, i});
    items.push_back({i, i + 1});
    group = i + 1;
    group_bytes = 0;
  }
  if (group < pieces.size()) items.push_back({group, pieces.size()});
  return items;
}

// Decodes one item's chunks (as a body of its own, with an END) against the target range.
Status VerifyItem(const BaseSource* base, std::string_view target, uint64_t offset, uint64_t length,
                  const std::string& chunks) {
  CompareWriter cmp(target.substr(offset, length));
  CodedBodyDecoder dec(base, length, &cmp, uint64_t{1} << format::kChunkWindowLog);
  OXIDE_RETURN_IF_ERROR(
      dec.Consume(reinterpret_cast<const uint8_t*>(chunks.data()), chunks.size()));
  const uint8_t end = static_cast<uint8_t>(format::Chunk::kEnd);
  OXIDE_RETURN_IF_ERROR(dec.Consume(&end, 1));
  OXIDE_RETURN_IF_ERROR(dec.Finish());
  if (!cmp.complete()) return Internal("encoded chunks rebuild less than their target range");
  return Status::Ok();
}

void AddStats(const CodedEncodeStats& a, CodedEncodeStats* to) {
  to->records.copy_bytes += a.records.copy_bytes;
  to->records.delta_bytes += a.records.delta_bytes;
  to->records.literal_bytes += a.records.literal_bytes;
  to->records.records += a.records.records;
  to->zstd_chunks += a.zstd_chunks;
  to->coded_chunks += a.coded_chunks;
  to->coded_bytes += a.coded_bytes;
  to->coded_payload += a.coded_payload;
}

}  // namespace

Status EncodeCodedBodyParallel(std::string_view base, std::string_view target,
                               const std::vector<Segment>& segments,
                               const ParallelCodedOptions& options,
                               const std::function<Status(std::string_view)>& write,
                               const std::function<void(const Segment&)>& done,
                               CodedEncodeStats* stats) {
  const uint64_t max_item = std::max<uint64_t>(
      format::kBlockBytes, options.max_item_bytes / format::kBlockBytes * format::kBlockBytes);
  const std::vector<Segment> pieces = SplitLong(segments, max_item);
  // Each item is verified against its own target range only; together they must tile the target
  // exactly, or a planner gap would pass every item's check and still ship a wrong file.
  uint64_t covered = 0;
  for (const Segment& p : pieces) {
    if (p.target_offset != covered) {
      return Internal("coded segments leave a gap or overlap at target offset " +
                      std::to_string(covered));
    }
    covered += p.length;
  }
  if (covered != target.size()) {
    return Internal("coded segments cover " + std::to_string(covered) + " of " +
                    std::to_string(target.size()) + " target bytes");
  }
  const std::vector<Item> items = MakeItems(pieces, max_item);
  const size_t threads = static_cast<size_t>(std::max(1, options.threads));
  const size_t in_flight = threads + options.max_pending;
  auto base_source = BaseSource::FromMemory(base);

  std::mutex mu;
  std::condition_variable cv;
  size_t next = 0;     // next item to claim
  size_t written = 0;  // items handed to `write`
  bool failed = false;
  Status error;
  std::vector<std::string> out(items.size());
  std::vector<CodedEncodeStats> item_stats(items.size());
  std::vector<char> ready(items.size(), 0);
  auto fail = [&](Status s) {  // REQUIRES: mu held
    if (!failed) error = std::move(s);
    failed = true;
    cv.notify_all();
  };

  auto work = [&] {
    CodedChunkEncoder enc(base, target, options.level);
    for (;;) {
      size_t i;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return failed || next >= items.size() || next < written + in_flight; });
        if (failed || next >= items.size()) return;
        i = next++;
      }
      const Item& it = items[i];
      std::string chunks;
      CodedEncodeStats st;
      Status s = enc.Encode(pieces, it.begin, it.end, &chunks, &st);
      const uint64_t offset = pieces[it.begin].target_offset;
      const uint64_t length = pieces[it.end - 1].target_offset + pieces[it.end - 1].length - offset;
      if (s.ok()) s = VerifyItem(base_source.get(), target, offset, length, chunks);
      std::lock_guard lock(mu);
      if (!s.ok()) {
        fail(std::move(s));
        return;
      }
      out[i] = std::move(chunks);
      item_stats[i] = st;
      ready[i] = 1;
      cv.notify_all();
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(work);

  for (size_t w = 0; w < items.size(); ++w) {
    std::string chunks;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return failed || ready[w] != 0; });
      if (failed) break;
      chunks.swap(out[w]);
    }
    Status s = write(chunks);
    if (s.ok() && done) {
      for (size_t i = items[w].begin; i < items[w].end; ++i) done(pieces[i]);
    }
    std::lock_guard lock(mu);
    if (!s.ok()) {
      fail(std::move(s));
      break;
    }
    if (stats != nullptr) AddStats(item_stats[w], stats);
    written = w + 1;
    cv.notify_all();
  }
  for (auto& t : pool) t.join();
  if (failed) return error;
  const char end = static_cast<char>(format::Chunk::kEnd);
  return write(std::string_view(&end, 1));
}

}  // namespace oxide::delta::internal
