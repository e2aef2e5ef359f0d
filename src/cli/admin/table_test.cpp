#include "cli/admin/table.hpp"

#include <gtest/gtest.h>

namespace oxide::cli::admin {
namespace {

TEST(Table, AlignsColumnsWithTwoSpacesAndRightAlignsNumbers) {
  Table t({"ID", "SIZE", "STATE"});
  t.AlignRight(1);
  t.AddRow({"cam-1", "12", "online"});
  t.AddRow({"c", "1024", "offline"});
  EXPECT_EQ(t.Render(),
            "ID     SIZE  STATE\n"
            "cam-1    12  online\n"
            "c      1024  offline\n");
}

TEST(Table, CellsFromDevicesCannotEscapeIntoTheTerminalOrBreakRows) {
  Table t({"DEVICE", "ERROR"});
  t.AddRow({"d1",
            "\x1b]0;pwned\x07"
            "boom\nsecond line\x1b[2J"});
  EXPECT_EQ(t.Render(200),
            "DEVICE  ERROR\n"
            "d1      \\x1b]0;pwned\\x07boom\\nsecond line\\x1b[2J\n");
}

TEST(Table, MissingCellsAreEmptyAndTheLastColumnIsNotPadded) {
  Table t({"A", "B"});
  t.AddRow({"x"});
  EXPECT_EQ(t.Render(), "A  B\nx\n");
}

TEST(Table, NarrowsTheWidestColumnToFitAndMarksTheCut) {
  Table t({"ID", "ERROR"});
  t.AddRow({"cam-1", std::string(100, 'e')});
  std::string out = t.Render(40);
  std::string row = out.substr(out.find('\n') + 1);
  row.pop_back();
  EXPECT_EQ(DisplayWidth(row), 40u);
  EXPECT_EQ(row.substr(row.size() - 3), "…");
  EXPECT_EQ(row.substr(0, 7), "cam-1  ");
}

TEST(Table, NeverNarrowsBelowSixCharacters) {
  Table t({"AAAAAAAAAA", "BBBBBBBBBB"});
  std::string out = t.Render(4);
  EXPECT_EQ(out, "AAAAA…  BBBBB…\n");
}

TEST(Table, CountsCodePointsNotBytes) {
  Table t({"N", "X"});
  t.AddRow({"é", "1"});
  t.AddRow({"ab", "2"});
  EXPECT_EQ(t.Render(), "N   X\né   1\nab  2\n");
}

TEST(HumanSize, UsesBinaryUnitsWithOneDecimal) {
  EXPECT_EQ(HumanSize(0), "0 B");
  EXPECT_EQ(HumanSize(1023), "1023 B");
  EXPECT_EQ(HumanSize(1024), "1.0 KiB");
  EXPECT_EQ(HumanSize(1536), "1.5 KiB");
  EXPECT_EQ(HumanSize(2143872), "2.0 MiB");
  EXPECT_EQ(HumanSize(5ull << 30), "5.0 GiB");
}

TEST(SavedPercent, IsTheShareNotSent) {
  EXPECT_EQ(SavedPercent(7190, 2143872), "99.7%");
  EXPECT_EQ(SavedPercent(10, 10), "0.0%");
  EXPECT_EQ(SavedPercent(1, 0), "-");
}

TEST(ShortTime, DropsTheMillisecondsAndTheT) {
  EXPECT_EQ(ShortTime("2026-11-27T15:01:14.123Z"), "2026-11-27 15:01:14");
  EXPECT_EQ(ShortTime("-"), "-");
  EXPECT_EQ(ShortTime(""), "-");
}

}  // namespace
}  // namespace oxide::cli::admin
