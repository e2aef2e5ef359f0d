#include "crypto/base64.hpp"

#include <array>

namespace oxide::crypto {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0..63 for an alphabet character, -1 otherwise.
constexpr std::array<int8_t, 256> MakeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kTable = MakeTable();

constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Both encodings: `alphabet` of 64 symbols, '=' padding when `pad`.
std::string Encode(std::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
    for (int s = 18; s >= 0; s -= 6) out += alphabet[(v >> s) & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = at(i) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    uint32_t v = at(i) << 16 | at(i + 1) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) { return Encode(bytes, kAlphabet, true); }

std::string Base64UrlEncode(std::string_view bytes) { return Encode(bytes, kUrlAlphabet, false); }

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return InvalidArgument("base64: length is not a multiple of 4");
  size_t pad = 0;
  if (!text.empty() && text.back() == '=')
    pad = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      char c = text[i + k];
      int8_t d = kTable[static_cast<unsigned char>(c)];
      if (d < 0) {
        if (!(last && c == '=' && k >= 4 - pad)) {
          return InvalidArgument("base64: invalid character at offset " + std::to_string(i + k));
        }
        d = 0;
      }
      v = v << 6 | static_cast<uint32_t>(d);
    }
    size_t n = last ? 3 - pad : 3;
    // Non-canonical encodings (stray bits under the padding) are refused.
    if (last && pad == 1 && (v & 0xff) != 0) return InvalidArgument("base64: non-canonical end");
    if (last && pad == 2 && (v & 0xffff) != 0) return InvalidArgument("base64: non-canonical end");
    for (size_t k = 0; k < n; ++k) out += static_cast<char>((v >> (16 - 8 * k)) & 0xff);
  }
  return out;
}

Result<std::string> Base64DecodeExact(std::string_view text, size_t size, std::string_view what) {
  auto bytes = Base64Decode(text);
  if (!bytes.ok()) return std::move(bytes).status().WithContext(what);
  if (bytes->size() != size) {
    return InvalidArgument(std::string(what) + ": " + std::to_string(bytes->size()) +
                           " bytes, expected " + std::to_string(size));
  }
  return bytes;
}

}  // namespace oxide::crypto
