#pragma once

// Doubles kept as decimal text in the store (neither backend binds doubles): "%.17g" round-trips
// every finite double exactly, so SQLite and PostgreSQL return the same value.

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace oxide::store {

inline std::string DecimalText(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

inline std::string DecimalText(const std::optional<double>& v) {
  return v ? DecimalText(*v) : std::string();
}

// nullopt for '' (and for text that is not a number, which the store never writes).
inline std::optional<double> ParseDecimalText(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

}  // namespace oxide::store
