#include "server/api/internal/query.hpp"

#include <algorithm>
#include <charconv>

namespace oxide::server::api {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> Decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] != '%') {
      out += s[i];
    } else {
      int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return Corrupt("bad %-escape in the query string");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
  }
  return out;
}

}  // namespace

Result<QueryParams> QueryParams::Parse(std::string_view raw,
                                       std::initializer_list<std::string_view> allowed) {
  QueryParams q;
  while (!raw.empty()) {
    std::string_view pair = raw.substr(0, raw.find('&'));
    raw.remove_prefix(std::min(raw.size(), pair.size() + 1));
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    OXIDE_ASSIGN_OR_RETURN(std::string name, Decode(pair.substr(0, eq)));
    std::string value;
    if (eq != std::string_view::npos) {
      OXIDE_ASSIGN_OR_RETURN(value, Decode(pair.substr(eq + 1)));
    }
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string known;
      for (auto a : allowed) known += (known.empty() ? "" : ", ") + std::string(a);
      return Corrupt("unknown query parameter '" + name.substr(0, 64) + "' (known: " + known + ")");
    }
    q.params_.emplace_back(std::move(name), std::move(value));
  }
  return q;
}

Result<std::optional<std::string>> QueryParams::One(std::string_view name) const {
  std::optional<std::string> out;
  for (const auto& [k, v] : params_) {
    if (k != name) continue;
    if (out) return Corrupt("query parameter '" + std::string(name) + "' is given twice");
    out = v;
  }
  return out;
}

std::vector<std::string> QueryParams::All(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : params_) {
    if (k == name) out.push_back(v);
  }
  return out;
}

Result<size_t> QueryParams::Limit(size_t fallback, size_t max) const {
  OXIDE_ASSIGN_OR_RETURN(auto text, One("limit"));
  if (!text) return fallback;
  size_t n = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (text->empty() || ec != std::errc() || end != text->data() + text->size() || n < 1 ||
      n > max) {
    return Corrupt("limit must be an integer between 1 and " + std::to_string(max));
  }
  return n;
}

}  // namespace oxide::server::api
