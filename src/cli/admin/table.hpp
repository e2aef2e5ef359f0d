#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace oxide::cli::admin {

// A text table for a terminal: a header row and aligned columns separated by two spaces,
// numbers right-aligned where asked. When the table is wider than `max_width` the widest
// columns are narrowed (never below 6 characters) and their long cells cut with "…", so a
// listing stays readable in 80 columns. Widths count UTF-8 code points. Every cell and header
// goes through TerminalSafe (terminal_text.hpp).
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void AlignRight(size_t column);
  void AddRow(std::vector<std::string> cells);  // missing cells are empty, extra ones dropped
  std::string Render(size_t max_width = 80) const;
  size_t rows() const { return rows_.size(); }

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// "0 B", "512 B", "1.5 KiB", "2.0 MiB", "3.1 GiB" (binary units, one decimal from KiB on).
std::string HumanSize(uint64_t bytes);
// "99.7%" = share of `full` saved by sending `sent` instead; "-" when full is 0.
std::string SavedPercent(uint64_t sent, uint64_t full);
// "2026-11-27T15:01:14.123Z" → "2026-11-27 15:01:14"; "" or null-ish stays "-".
std::string ShortTime(std::string_view rfc3339);
// Number of code points (display width for the text we print).
size_t DisplayWidth(std::string_view s);

}  // namespace oxide::cli::admin
