#pragma once

#include <string>
#include <string_view>

namespace oxide::cli::admin {

// Text from the server (device names, health-check errors, inventory, tags: much of it written by
// devices) made safe to print on an operator's terminal. C0 controls, DEL, C1 controls
// (U+0080–U+009F), the bidirectional overrides and line separators (U+202A–U+202E,
// U+2066–U+2069, U+2028, U+2029) and bytes that are not valid UTF-8 become visible escapes
// ("\x1b", "\n", "\t", "\r", "\u009b", "\xff"), so a device cannot send escape sequences (colours,
// OSC title or clipboard writes, cursor moves) to the terminal, and one value stays on one line:
// a newline would break a table's rows and the cursor-up count of `campaign watch`'s redraw.
// Everything else (printable ASCII, valid UTF-8) is kept; the result is valid UTF-8.
std::string TerminalSafe(std::string_view s);

// As TerminalSafe, but '\n' is kept: for whole blocks of output the CLI composed itself (every
// value inside already went through TerminalSafe; this is the net for what did not).
std::string TerminalSafeLines(std::string_view s);

}  // namespace oxide::cli::admin
