#include "cli/admin/admin_commands.hpp"
#include "cli/admin/terminal_text.hpp"

namespace oxide::cli::admin {

void Print(const Console& c, const std::string& text) { PrintRaw(c, TerminalSafeLines(text)); }

void PrintRaw(const Console& c, const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), c.out);
  std::fflush(c.out);
}

}  // namespace oxide::cli::admin
