#pragma once

// The process log: one line per event on stderr, as text (for a person or journald) or JSON
// (for a log pipeline). spdlog does the work but stays inside log.cpp; callers see only this.

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/result.hpp"

namespace oxide::log {

enum class Level : uint8_t { kTrace, kDebug, kInfo, kWarn, kError, kOff };
enum class Format : uint8_t { kText, kJson };

// "trace" "debug" "info" "warn" "error" "off" / "text" "json"; Parse* accept exactly these.
std::string_view ToString(Level level);
Result<Level> ParseLevel(std::string_view s);
std::string_view ToString(Format format);
Result<Format> ParseFormat(std::string_view s);

// One key=value of a structured line. Numbers stay numbers in JSON.
class Field {
 public:
  Field(std::string_view key, std::string_view value) : key_(key), value_(value) {}
  Field(std::string_view key, const std::string& value) : key_(key), value_(value) {}
  Field(std::string_view key, const char* value) : key_(key), value_(value) {}
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>>>
  Field(std::string_view key, T value) : key_(key), value_(Number(value)), number_(true) {}

  std::string_view key() const { return key_; }
  const std::string& value() const { return value_; }
  bool number() const { return number_; }

 private:
  static std::string Number(double v);
  static std::string Number(int64_t v) { return std::to_string(v); }
  static std::string Number(uint64_t v) { return std::to_string(v); }
  template <class T>
  static std::string Number(T v) {
    if constexpr (std::is_floating_point_v<T>) {
      return Number(static_cast<double>(v));
    } else if constexpr (std::is_signed_v<T>) {
      return Number(static_cast<int64_t>(v));
    } else {
      return Number(static_cast<uint64_t>(v));
    }
  }

  std::string_view key_;
  std::string value_;
  bool number_ = false;
};
using Fields = std::initializer_list<Field>;

struct Options {
  std::string name = "oxide";  // who logs: "oxide serve", "oxide-agent", ...
  Level level = Level::kInfo;
  Format format = Format::kText;
  std::ostream* stream = nullptr;  // tests; nullptr = stderr
};

// Replaces the process-wide logger. Call once from main before any thread logs; until then
// lines go to stderr as text at info level.
void Setup(const Options& options);

// Whether a line at `level` would be written (skip building expensive messages).
bool Enabled(Level level);

// Writes one line: "<time> <level> <name>: <message> key=value ..." as text, or
// {"time":…,"level":…,"name":…,"msg":…,"key":value,…} as JSON. Thread-safe.
void Write(Level level, std::string_view message, Fields fields = {});
void Write(Level level, std::string_view message, const std::vector<Field>& fields);
inline void Debug(std::string_view m, Fields f = {}) { Write(Level::kDebug, m, f); }
inline void Info(std::string_view m, Fields f = {}) { Write(Level::kInfo, m, f); }
inline void Warn(std::string_view m, Fields f = {}) { Write(Level::kWarn, m, f); }
inline void Error(std::string_view m, Fields f = {}) { Write(Level::kError, m, f); }

// The part of a line after the time, level and name (what Write adds them to); for tests.
std::string FormatMessage(Format format, std::string_view message, Fields fields);
std::string FormatMessage(Format format, std::string_view message,
                          const std::vector<Field>& fields);

// The command-line flags every subcommand takes (-v/--verbose, --log-level, --log-format),
// as the CLI parser fills them. ToOptions resolves them: the more verbose of -v (debug; -vv
// trace) and --log-level wins.
struct Flags {
  int verbose = 0;
  std::string level;  // empty: info
  std::string format = "text";
  Result<Options> ToOptions(std::string name) const;
};

}  // namespace oxide::log
