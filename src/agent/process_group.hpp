#pragma once

#include "agent/update_record.hpp"
#include "base/result.hpp"

namespace oxide::agent {

// Identity of the process group led by `leader` (a health check just spawned with its own group):
// the leader's start time and this boot's id, so that a later start can tell the group from an
// unrelated one that reuses the id. kNotFound when the process is gone, kIo when /proc is
// unreadable.
Result<HealthGroup> DescribeProcessGroup(int leader);

// Kills (SIGKILL) what is left of `group` after the agent was killed during a health check:
// every process whose process group is group.pgid, in this boot, owned by our effective uid, and
// started no earlier than the group's leader (the leader itself may be gone while its children
// live on). Nothing is killed after a reboot (other boot id). Returns how many processes were
// signalled; 0 when the group is gone.
int KillProcessGroupIfOurs(const HealthGroup& group);

}  // namespace oxide::agent
