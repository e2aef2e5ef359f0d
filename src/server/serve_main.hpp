#pragma once

#include <string>
#include <vector>

namespace oxide::server {

// `oxide serve ...`: args[0] is the program, args[1] == "serve". Returns the exit code.
int ServeMain(const std::vector<std::string>& args);

}  // namespace oxide::server
