#pragma once

#include <span>
#include <string>

#include "agent/ota_state.hpp"
#include "base/result.hpp"

namespace oxide::agent {

// One row of the OTA transition table.
struct Transition {
  OtaState from;
  OtaEvent event;
  OtaState to;
};

// The one transition table of the OTA pipeline (Mender style). Handlers never pick states.
std::span<const Transition> TransitionTable();

// Looks up (state, event). An unknown pair is an error (kInternal), never a silent no-op.
Result<OtaState> NextState(OtaState from, OtaEvent event);

// The table as a Markdown table ("| from | event | to |"), generated for docs/agent.md.
std::string TransitionTableMarkdown();

}  // namespace oxide::agent
