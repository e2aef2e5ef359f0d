#pragma once

#include "base/stop_flag.hpp"
#include "simulate/http_multi.hpp"
#include "simulate/sim_options.hpp"
#include "simulate/sim_stats.hpp"

namespace oxide::simulate {

// Runs options.devices simulated devices against the control plane(s) on the calling thread
// for options.duration_s, then lets the requests in flight end (at most 30 s more), and returns
// what it measured. Each device, on its own jittered schedule (docs/simulate.md):
//   enrol (POST /api/v1/enroll, like the agent's ControlPlane::Enroll; again after a 401) →
//   heartbeat every poll interval (the agent's HeartbeatRequest: installed model, reports) →
//   on a new assignment: a "failing" device reports a failure (a FailureReport, as the agent's);
//   a "downloading" device downloads with X-Oxide-Base-SHA256 of what it runs, so the server
//   picks patch or full file as for an agent, verifies it in memory (PayloadVerifier; the first
//   verified download of each version is kept, one copy, as the base of later patches for every
//   device running it) and reports the install; any other device reports the install at once.
// A device costs 8 bytes plus its 16-byte schedule entry; requests in flight are bounded by
// options.concurrency (downloads also by 16, for the decoders' memory). `http` must outlive
// the call and allow options.concurrency connections. `stop` (may be null) ends the run early,
// as the duration would; it must outlive the call.
SimStats RunSimulation(const SimOptions& options, HttpMulti& http, const StopFlag* stop = nullptr);

}  // namespace oxide::simulate
