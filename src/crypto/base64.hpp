#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace oxide::crypto {

// Standard base64 (RFC 4648 section 4, '+' '/', '=' padding), as used by DSSE envelopes and
// key sets. Encoding always pads.
std::string Base64Encode(std::string_view bytes);

// URL-safe base64 without padding (RFC 4648 section 5: '-' '_'), as in tokens and secrets.
std::string Base64UrlEncode(std::string_view bytes);

// Strict decoding: the length must be a multiple of 4, padding only at the end (at most two
// '='), no whitespace, no other alphabet, and the unused bits of the last symbol must be zero,
// so every byte string has exactly one accepted encoding. kInvalidArgument otherwise.
Result<std::string> Base64Decode(std::string_view text);

// Base64Decode, then exactly `size` bytes or kInvalidArgument naming `what`.
Result<std::string> Base64DecodeExact(std::string_view text, size_t size, std::string_view what);

}  // namespace oxide::crypto
