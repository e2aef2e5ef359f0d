#pragma once

#include <string>
#include <vector>

namespace oxide::simulate {

// `oxide simulate ...`: args[0] is the program, args[1] == "simulate". Prints the report on
// stdout; returns 0 when no request failed, 1 when any did, 2 on a bad command line (one line
// on stderr).
int SimulateMain(const std::vector<std::string>& args);

}  // namespace oxide::simulate
