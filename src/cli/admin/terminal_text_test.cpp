#include "cli/admin/terminal_text.hpp"

#include <gtest/gtest.h>

namespace oxide::cli::admin {
namespace {

TEST(TerminalSafe, KeepsPrintableAsciiAndValidUtf8) {
  EXPECT_EQ(TerminalSafe("cam-1 lyon"), "cam-1 lyon");
  EXPECT_EQ(TerminalSafe("café … 日本 🙂"), "café … 日本 🙂");
  EXPECT_EQ(TerminalSafe(""), "");
}

TEST(TerminalSafe, EscapesAnsiAndOscSequences) {
  EXPECT_EQ(TerminalSafe("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  // OSC 52 (write the clipboard) and OSC 0 (window title), BEL- and ST-terminated.
  EXPECT_EQ(TerminalSafe("\x1b]52;c;cm0gLXJmIH4=\x07"), "\\x1b]52;c;cm0gLXJmIH4=\\x07");
  EXPECT_EQ(TerminalSafe("\x1b]0;pwned\x1b\\"), "\\x1b]0;pwned\\x1b\\");
}

TEST(TerminalSafe, EscapesLineBreaksTabsAndEveryC0AndDel) {
  EXPECT_EQ(TerminalSafe("line1\nline2\r\tx"), "line1\\nline2\\r\\tx");
  EXPECT_EQ(TerminalSafe(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(TerminalSafe("\x01\x08\x1f\x7f"), "\\x01\\x08\\x1f\\x7f");
  for (int c = 0; c < 0x20; ++c) {
    std::string out = TerminalSafe(std::string(1, static_cast<char>(c)));
    EXPECT_EQ(out[0], '\\') << c;
  }
}

TEST(TerminalSafe, EscapesC1ControlsAndBidiOverrides) {
  EXPECT_EQ(TerminalSafe("\xc2\x9b"
                         "31m"),
            "\\u009b31m");                          // CSI as one code point
  EXPECT_EQ(TerminalSafe("\xc2\x85"), "\\u0085");   // NEL
  EXPECT_EQ(TerminalSafe("\xc2\xa0"), "\xc2\xa0");  // U+00A0 is printable
  EXPECT_EQ(TerminalSafe("a\xe2\x80\xae"
                         "b"),
            "a\\u202eb");  // right-to-left override
  EXPECT_EQ(TerminalSafe("\xe2\x80\xa8"), "\\u2028");
}

TEST(TerminalSafe, EscapesInvalidUtf8ByteByByte) {
  EXPECT_EQ(TerminalSafe("\xff"), "\\xff");
  EXPECT_EQ(TerminalSafe("a\xe2\x82"), "a\\xe2\\x82");                  // truncated sequence
  EXPECT_EQ(TerminalSafe("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(TerminalSafe("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // a UTF-16 surrogate
  EXPECT_EQ(TerminalSafe("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // past U+10FFFF
  EXPECT_EQ(TerminalSafe("\x80x"), "\\x80x");                           // a lone continuation byte
}

TEST(TerminalSafe, IsIdempotent) {
  std::string once = TerminalSafe("\x1b[2J\nx\xff");
  EXPECT_EQ(TerminalSafe(once), once);
}

TEST(TerminalSafeLines, KeepsNewlinesOnly) {
  EXPECT_EQ(TerminalSafeLines("a\x1b[1A\nb\r\n"), "a\\x1b[1A\nb\\r\n");
}

}  // namespace
}  // namespace oxide::cli::admin
