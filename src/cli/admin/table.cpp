#include "cli/admin/table.hpp"

#include <algorithm>
#include <cstdio>

#include "cli/admin/terminal_text.hpp"

namespace oxide::cli::admin {
namespace {

constexpr size_t kGap = 2;
constexpr size_t kMinWidth = 6;

// The first `width` code points of `s`, with "…" as the last one when it was cut.
std::string Fit(const std::string& s, size_t width) {
  if (DisplayWidth(s) <= width) return s;
  std::string out;
  size_t points = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    bool starts_point = (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
    if (starts_point && ++points == width) break;
    out += s[i];
  }
  return out + "…";
}

std::string Pad(const std::string& s, size_t width, bool right) {
  size_t w = DisplayWidth(s);
  std::string fill(width > w ? width - w : 0, ' ');
  return right ? fill + s : s + fill;
}

}  // namespace

size_t DisplayWidth(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

Table::Table(std::vector<std::string> headers)
    : headers_(std::move(headers)), right_(headers_.size(), false) {
  for (auto& h : headers_) h = TerminalSafe(h);
}

void Table::AlignRight(size_t column) {
  if (column < right_.size()) right_[column] = true;
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  // Cells come from the server and, through it, from devices: no escape sequence or line break
  // reaches the terminal, and each row stays one line.
  for (auto& c : cells) c = TerminalSafe(c);
  rows_.push_back(std::move(cells));
}

std::string Table::Render(size_t max_width) const {
  std::vector<size_t> width(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) {
    width[c] = DisplayWidth(headers_[c]);
    for (const auto& row : rows_) width[c] = std::max(width[c], DisplayWidth(row[c]));
  }
  auto total = [&] {
    size_t t = 0;
    for (size_t w : width) t += w;
    return t + (width.empty() ? 0 : kGap * (width.size() - 1));
  };
  while (total() > max_width) {
    auto widest = std::max_element(width.begin(), width.end());
    if (*widest <= kMinWidth) break;
    --*widest;
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t c = 0; c < cells.size(); ++c) {
      if (c > 0) l.append(kGap, ' ');
      bool last = c + 1 == cells.size();
      std::string cell = Fit(cells[c], width[c]);
      l += (last && !right_[c]) ? cell : Pad(cell, width[c], right_[c]);
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();  // empty last cells
    out += l + "\n";
  };
  line(headers_);
  for (const auto& row : rows_) line(row);
  return out;
}

std::string HumanSize(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes) / 1024;
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string SavedPercent(uint64_t sent, uint64_t full) {
  if (full == 0) return "-";
  double saved = 100.0 * (1.0 - static_cast<double>(sent) / static_cast<double>(full));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", saved);
  return buf;
}

std::string ShortTime(std::string_view t) {
  if (t.size() < 19 || t[10] != 'T') return t.empty() ? "-" : std::string(t);
  std::string s(t.substr(0, 19));
  s[10] = ' ';
  return s;
}

}  // namespace oxide::cli::admin
