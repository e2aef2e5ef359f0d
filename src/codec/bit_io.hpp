#pragma once

// Raw bit packing for the bits an entropy model leaves uncoded (the low bits of a residual, the
// mantissa of a float). LSB-first: the first value written occupies the lowest bits of the first
// byte. The reader refills 64 bits at a time and never reads outside its [begin, end) range;
// reading past the end yields zeros and is reported by Overrun(), which the caller turns into
// kCorrupt after the (branch-free) hot loop.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace oxide::codec::internal {

class BitWriter {
 public:
  explicit BitWriter(std::string* out) : out_(out) {}

  // REQUIRES: nbits <= 32, value < 2^nbits.
  void Put(uint64_t value, unsigned nbits) {
    acc_ |= value << fill_;
    fill_ += nbits;
    if (fill_ >= 32) {
      char b[4];
      uint32_t low = static_cast<uint32_t>(acc_);
      std::memcpy(b, &low, 4);  // little-endian host, as the whole format assumes
      out_->append(b, 4);
      acc_ >>= 32;
      fill_ -= 32;
    }
  }
  // Any width up to 64 bits.
  void PutWide(uint64_t value, unsigned nbits) {
    if (nbits > 32) {
      Put(value & 0xffffffffu, 32);
      Put(value >> 32, nbits - 32);
    } else {
      Put(value, nbits);
    }
  }
  // Writes the partial last byte(s); the padding bits are zero.
  void Flush() {
    while (fill_ > 0) {
      out_->push_back(static_cast<char>(acc_ & 0xff));
      acc_ >>= 8;
      fill_ = fill_ > 8 ? fill_ - 8 : 0;
    }
  }

 private:
  std::string* out_;
  uint64_t acc_ = 0;
  unsigned fill_ = 0;
};

class BitReader {
 public:
  BitReader(const uint8_t* begin, const uint8_t* end)
      : p_(begin), end_(end), total_bits_(static_cast<uint64_t>(end - begin) * 8) {
    Refill();
  }

  // REQUIRES: nbits <= 32. Values past the end of the input read as zero.
  [[gnu::always_inline]] uint64_t Get(unsigned nbits) {
    if (avail_ < nbits) Refill();
    uint64_t v = acc_ & ((uint64_t{1} << nbits) - 1);
    acc_ >>= nbits;
    avail_ -= nbits;
    consumed_ += nbits;
    return v;
  }
  uint64_t GetWide(unsigned nbits) {
    if (nbits > 32) {
      uint64_t low = Get(32);
      return low | (Get(nbits - 32) << 32);
    }
    return Get(nbits);
  }

  uint64_t ConsumedBits() const { return consumed_; }
  // True when more bits were consumed than the input holds.
  bool Overrun() const { return consumed_ > total_bits_; }
  // True when every byte was consumed and the unread padding bits of the last byte are zero.
  bool AtCleanEnd() const {
    if (Overrun() || total_bits_ - consumed_ >= 8) return false;
    return acc_ == 0;
  }

 private:
  void Refill() {
    if (end_ - p_ >= 8) {
      uint64_t w;
      std::memcpy(&w, p_, 8);
      acc_ |= w << avail_;
      size_t take = (63 - avail_) >> 3;
      p_ += take;
      avail_ += static_cast<unsigned>(take * 8);
      return;
    }
    while (avail_ <= 56) {
      if (p_ == end_) {
        avail_ = 64;  // zero bits past the end; Overrun() tells the caller
        return;
      }
      acc_ |= static_cast<uint64_t>(*p_++) << avail_;
      avail_ += 8;
    }
  }

  const uint8_t* p_;
  const uint8_t* end_;
  uint64_t total_bits_;
  uint64_t consumed_ = 0;
  uint64_t acc_ = 0;
  unsigned avail_ = 0;
};

// The same LSB-first bits read by position, for a loop that knows ahead how many bits a run of
// reads takes: while CanReadFast covers the run, each read is one unaligned load with no branch
// and no refill (the class model's merge pass: its reads form one dependency chain, so every
// cycle of a read is a cycle of the whole decode).
class BitCursor {
 public:
  BitCursor(const uint8_t* begin, const uint8_t* end)
      : p_(begin), size_(static_cast<uint64_t>(end - begin)) {}

  // True when reads totalling `nbits` from here may use GetFast: the input holds 8 bytes from
  // the byte of every position they start at.
  bool CanReadFast(uint64_t nbits) const { return size_ >= 8 && (pos_ + nbits) / 8 <= size_ - 8; }
  // REQUIRES: nbits <= 57, covered by CanReadFast.
  [[gnu::always_inline]] uint64_t GetFast(unsigned nbits) {
    uint64_t w;
    std::memcpy(&w, p_ + (pos_ >> 3), 8);
    uint64_t v = (w >> (pos_ & 7)) & ((uint64_t{1} << nbits) - 1);
    pos_ += nbits;
    return v;
  }
  // REQUIRES: nbits <= 64. Bits past the end read as zero (Overrun() tells). One load where 8
  // bytes remain, so a run that CanReadFast does not cover slows down only in its last bytes.
  [[gnu::always_inline]] uint64_t Get(unsigned nbits) {
    if (nbits <= 57 && size_ >= 8 && (pos_ >> 3) <= size_ - 8) return GetFast(nbits);
    return GetSlow(nbits);
  }

  bool Overrun() const { return pos_ > size_ * 8; }
  // True when every byte was consumed and the unread padding bits of the last byte are zero.
  bool AtCleanEnd() const {
    if (Overrun() || size_ * 8 - pos_ >= 8) return false;
    return (pos_ & 7) == 0 || (p_[pos_ >> 3] >> (pos_ & 7)) == 0;
  }

 private:
  [[gnu::noinline]] uint64_t GetSlow(unsigned nbits) {
    uint64_t v = 0;
    for (unsigned got = 0; got < nbits;) {
      const unsigned off = static_cast<unsigned>(pos_ & 7);
      const unsigned take = std::min(8 - off, nbits - got);
      const uint64_t byte = (pos_ >> 3) < size_ ? p_[pos_ >> 3] : 0;
      v |= ((byte >> off) & ((uint64_t{1} << take) - 1)) << got;
      got += take;
      pos_ += take;
    }
    return v;
  }

  const uint8_t* p_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

}  // namespace oxide::codec::internal
