#!/usr/bin/env python3
"""Fleet-level end-to-end tests: one real `oxide serve` and 10+ real `oxide agent` processes on
loopback (python3 stdlib only).

usage: fleet_e2e.py path/to/oxide SCENARIO   (SCENARIO: one of SCENARIOS, or `all`)

Every wait polls observable state (HTTP API, agent log lines, files) against a deadline; no
sleep is used as synchronisation. Models are small SafeTensors files written here; each new
version is v1 with a few values nudged, so the server's patches are what devices download.
Set OXIDE_E2E_KEEP=1 to keep the work dir.
"""
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "scripts", "demo_lib"))
from fleet import TERMINAL, Fleet, model_family, random_safetensors, wait_for  # noqa: E402

FAILURES = {"failed", "rolled_back"}
IN_FLIGHT = {"pending", "downloading", "applying"}
BIG = 256 * 1024  # floats per tensor of the models that must download slowly (4 tensors: 4 MB)
T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)
    log("ok: " + msg)


def ids(n, prefix="d"):
    return [f"{prefix}{i:02d}" for i in range(1, n + 1)]


def states(detail):
    return {d["device_id"]: d["state"] for d in detail["devices"]}


def wait_heartbeats(fleet, devices, rounds=3, timeout=30):
    """Waits until each device's last_heartbeat has changed `rounds` times: every agent has
    talked to the server again, so anything the server would do on a heartbeat has happened."""
    seen = {d: {fleet.device(d)["last_heartbeat"]} for d in devices}

    def done():
        for d in devices:
            seen[d].add(fleet.device(d)["last_heartbeat"])
        return all(len(s) > rounds for s in seen.values())
    wait_for(f"{rounds} more heartbeats from {len(devices)} devices", done, timeout, 0.05)


def wait_refused(fleet, devices, version, timeout=60):
    """Waits until the agents gave up on `version` (--max-attempts failures): no more retries."""
    wait_for(f"{devices} to refuse {version}",
             lambda: all(fleet.agents[d].lines(rf"version {re.escape(version)} refused")
                         for d in devices), timeout, 0.1)


def wait_rolled_back(fleet, devices, version, to="v1", timeout=60):
    """Waits until each agent rolled `version` back and is idle again, its report acknowledged
    (a failed device gets its previous assignment back: it does not retry)."""
    def done(d):
        a = fleet.agents[d]
        st = a.state(fleet.model_id) or {}
        return (a.lines(rf"rolled back to {re.escape(to)}") and st.get("state") == "idle" and
                st.get("last_version") == version and not st.get("pending_reports"))
    wait_for(f"{devices} to roll {version} back", lambda: all(done(d) for d in devices),
             timeout, 0.1)


def all_run(fleet, devices, version, timeout=60):
    sha = fleet.versions[version]["sha256"]
    wait_for(f"{len(devices)} devices running {version}",
             lambda: all(fleet.agents[d].installed_sha(fleet.model_id) == sha for d in devices),
             timeout, 0.1)


class Recorder:
    """on_poll callback: checks an invariant on every campaign snapshot, and notes server-side
    times: a device seen `pending` has updated_at = its assignment time; a device seen terminal
    has updated_at = when it finished (the server no longer touches terminal devices)."""

    def __init__(self, invariant=None):
        self.snapshots = 0
        self.invariant = invariant
        self.assigned_at = {}
        self.finished_at = {}

    def __call__(self, detail):
        self.snapshots += 1
        if self.invariant:
            self.invariant(detail)
        for d in detail["devices"]:
            if d["state"] == "pending":
                self.assigned_at.setdefault(d["device_id"], d["updated_at"])
            elif d["state"] in TERMINAL:
                self.finished_at.setdefault(d["device_id"], d["updated_at"])


# Agent log lines are timestamped when this process reads them; a reader thread may lag a few
# milliseconds behind under load, so cross-agent comparisons allow that much.
READ_JITTER = 0.05


def check_order(rec, fleet, before, after, version, what):
    """Every device of `after` was assigned only once every device of `before` had finished:
    exactly by server times where a snapshot caught the device pending, and by agent log order
    (commit of the last of `before` vs first assignment in `after`) in any case."""
    done = max(rec.finished_at[d] for d in before)  # RFC 3339 with ms: ordered as strings
    caught = {d: rec.assigned_at[d] for d in after if d in rec.assigned_at}
    early = {d: t for d, t in caught.items() if t < done}
    if early:
        raise AssertionError(f"{what}: {early} assigned before the previous group finished "
                             f"({done})")
    committed = max(fleet.agents[d].first(rf"committed {version}") for d in before)
    assigned = min(fleet.agents[d].first(rf"assigned {version}") for d in after)
    if assigned < committed - READ_JITTER:
        raise AssertionError(f"{what}: an agent got {version} {committed - assigned:.3f}s before "
                             f"the previous group's last commit")
    check(True, f"{what}: assigned after the previous group finished (server times for "
                f"{len(caught)}/{len(after)} devices; agent logs: {assigned - committed:+.3f}s)")


def new_fleet(work, n, server_args=(), poll=0.2, extra=(), start=True):
    fleet = Fleet(OXIDE, work, model_id="net", fleet_id="fleet",
                  server_args=["--offline-after", "2", *server_args])
    fleet.start_server()
    fleet.add_devices(ids(n), poll=poll, extra=extra, start=start)
    log(f"server {fleet.server.url}, {n} devices")
    return fleet


def install_v1(fleet, blob, devices=None):
    fleet.upload("v1", blob)
    cid = fleet.campaign("v1", "all_at_once")
    fleet.wait_campaign(cid, timeout=60)
    all_run(fleet, devices or list(fleet.agents), "v1")
    return cid


# ---------------------------------------------------------------------------------------------
# 1. all-at-once, canary and rolling reach `completed`, in the order their strategy prescribes

def scenario_strategies(work):
    n = 12
    fleet = new_fleet(work, n)
    try:
        order = ids(n)
        v1, tune = model_family(seed=1)

        # all-at-once: every device assigned at creation.
        fleet.upload("v1", v1)
        first = fleet.create_campaign("v1", "all_at_once")
        cid = first["id"]
        check(not [d for d, s in states(first).items() if s == "waiting"],
              "all_at_once: every device assigned at creation")
        fleet.wait_campaign(cid)
        all_run(fleet, order, "v1")
        check(True, "all_at_once: campaign completed, 12 devices run v1")

        # canary 25 %: ceil(12 * 0.25) = 3 devices first, the rest only once all 3 completed.
        fleet.upload("v2", tune(2))
        fleet.patch_from("v2", "v1")
        wave = order[:math.ceil(n * 25 / 100)]
        rest = order[len(wave):]

        def canary_invariant(detail):
            st = states(detail)
            started = [d for d in rest if st[d] != "waiting"]
            if started and not all(st[d] == "completed" for d in wave):
                raise AssertionError(f"canary: {started} assigned while the wave is {st}")
        rec = Recorder(canary_invariant)
        first = fleet.create_campaign("v2", "canary", canary_percent=25)
        cid = first["id"]
        rec(first)
        check({d for d, s in states(first).items() if s != "waiting"} == set(wave),
              f"canary: exactly the first {len(wave)} devices assigned at creation")
        fleet.wait_campaign(cid, on_poll=rec)
        all_run(fleet, order, "v2")
        check_order(rec, fleet, wave, rest, "v2", "canary: devices outside the wave")
        check(True, f"canary: campaign completed ({rec.snapshots} snapshots consistent)")

        # rolling, batches of 4: batch k+1 only after every device of batch k finished.
        fleet.upload("v3", tune(3))
        fleet.patch_from("v3", "v2")
        size = 4
        batches = [order[i:i + size] for i in range(0, n, size)]

        def rolling_invariant(detail):
            st = states(detail)
            for prev, nxt in zip(batches, batches[1:]):
                if any(st[d] != "waiting" for d in nxt) and \
                        not all(st[d] in TERMINAL for d in prev):
                    raise AssertionError(f"rolling: batch {nxt} started before {prev} ended: {st}")
            if sum(s in IN_FLIGHT for s in st.values()) > size:
                raise AssertionError(f"rolling: more than {size} devices in flight: {st}")
        rec = Recorder(rolling_invariant)
        first = fleet.create_campaign("v3", "rolling", batch_size=size)
        cid = first["id"]
        rec(first)
        check({d for d, s in states(first).items() if s != "waiting"} == set(batches[0]),
              f"rolling: exactly the first batch of {size} assigned at creation")
        fleet.wait_campaign(cid, on_poll=rec)
        all_run(fleet, order, "v3")
        for k, (prev, nxt) in enumerate(zip(batches, batches[1:]), start=1):
            check_order(rec, fleet, prev, nxt, "v3", f"rolling: batch {k + 1}")
        check(True, f"rolling: campaign completed ({rec.snapshots} snapshots consistent)")
    finally:
        fleet.close()


# ---------------------------------------------------------------------------------------------
# 2a. pause stops new assignments, resume continues

def scenario_pause_resume(work):
    n = 10
    fleet = new_fleet(work, n)
    try:
        order = ids(n)
        v1, tune = model_family(seed=2)
        install_v1(fleet, v1)

        fleet.upload("v2", tune(2))
        fleet.patch_from("v2", "v1")
        cid = fleet.campaign("v2", "rolling", batch_size=2)
        paused = fleet.api.post(f"/api/v1/campaigns/{cid}/pause")
        check(paused["state"] == "paused", "pause accepted")
        assigned = {d for d, s in states(fleet.detail(cid)).items() if s != "waiting"}
        check(assigned and assigned == set(order[:len(assigned)]) and len(assigned) % 2 == 0,
              f"paused with the first batch(es) assigned: {sorted(assigned)}")
        wait_for("the assigned batch to finish while paused",
                 lambda: all(states(fleet.detail(cid))[d] in TERMINAL for d in assigned), 60)
        wait_heartbeats(fleet, order)
        st = states(fleet.detail(cid))
        check({d for d, s in st.items() if s != "waiting"} == assigned and
              fleet.detail(cid)["state"] == "paused",
              "paused: batch in flight finished, no new assignment after 3 heartbeats of each "
              "device")
        check(not any(fleet.agents[d].lines(r"assigned v2") for d in order if d not in assigned),
              "paused: no other agent was assigned v2")
        status, _ = fleet.api.call("POST", f"/api/v1/campaigns/{cid}/resume")
        check(status == 200, "resume accepted")
        fleet.wait_campaign(cid, timeout=90)
        all_run(fleet, order, "v2")
        check(True, "resumed: campaign completed, every device runs v2")
        status, _ = fleet.api.call("POST", f"/api/v1/campaigns/{cid}/resume")
        check(status == 409, "resume of a completed campaign is refused (409)")
    finally:
        fleet.close()


# ---------------------------------------------------------------------------------------------
# 2b. abort withdraws what was not yet applied

def scenario_abort(work):
    n = 10
    # 4 MB models, downloads throttled to 1 MB/s: a batch stays in flight long enough to act on.
    fleet = new_fleet(work, n, extra=["--max-recv-speed", str(1 << 20)])
    try:
        order = ids(n)
        v1, tune = model_family(seed=2, floats=BIG)
        install_v1(fleet, v1)
        fleet.upload("v2", tune(2))
        fleet.patch_from("v2", "v1")
        fleet.wait_campaign(fleet.campaign("v2", "all_at_once"))
        all_run(fleet, order, "v2")
        check(True, "every device runs v2")

        # Abort while the first rolling batch downloads (unrelated weights: a ~full download).
        fleet.upload("v3", model_family(seed=98, floats=BIG)[0])
        cid = fleet.campaign("v3", "rolling", batch_size=3)
        wait_for("the first batch downloading",
                 lambda: any(d["state"] == "downloading" and d.get("bytes_done", 0) > 0
                             for d in fleet.detail(cid)["devices"]), 30, 0.02)
        aborted = fleet.api.post(f"/api/v1/campaigns/{cid}/abort")
        check(aborted["state"] == "aborted", "abort accepted mid-download")
        st = states(fleet.detail(cid))
        completed = [d for d, s in st.items() if s == "completed"]
        withdrawn = [d for d, s in st.items() if s == "withdrawn"]
        check(len(completed) + len(withdrawn) == n and len(withdrawn) >= n - 3,
              f"abort: {len(withdrawn)} withdrawn, {len(completed)} already completed")
        v2_sha = fleet.versions["v2"]["sha256"]
        back = {d: (fleet.device(d).get("assignment") or {}).get("version") for d in withdrawn}
        check(set(back.values()) == {"v2"},
              "abort: every withdrawn device's assignment is v2 again")
        in_flight = [d for d in withdrawn if fleet.agents[d].lines(r"assigned v3")]
        check(set(in_flight) <= set(order[:3]), f"abort: only {in_flight} had started on v3")

        def back_on_v2(d):
            a = fleet.agents[d]
            return (a.installed_sha("net") == v2_sha and
                    (a.state("net") or {}).get("state") == "idle" and
                    fleet.device(d).get("current_model_version") == "v2")
        wait_for("withdrawn devices to run v2, agents idle",
                 lambda: all(back_on_v2(d) for d in withdrawn), 60, 0.1)
        wait_heartbeats(fleet, order)
        check(all(back_on_v2(d) for d in withdrawn),
              "abort: every withdrawn device runs v2, agent idle")
        check(not any(fleet.agents[d].lines(r"assigned v3") for d in order[3:]),
              "abort: no device outside the first batch ever saw v3")
        check(fleet.detail(cid)["state"] == "aborted", "abort: campaign stays aborted")
        # What was not yet applied must not be applied: the downloads in flight are abandoned.
        applied = [d for d in in_flight if fleet.agents[d].lines(r"activated v3")]
        check(not applied, "abort: no agent activated v3 after the abort")
        check(all(fleet.agents[d].lines(r"abandoning v3") for d in in_flight),
              f"abort: agents {in_flight} abandoned their v3 download")

        # A newer campaign supersedes one whose downloads are in flight: v4 (a ~full download)
        # to everyone, then v5 (a patch from v2) before v4 is applied anywhere.
        fleet.upload("v5", tune(5))
        fleet.patch_from("v5", "v2")
        fleet.upload("v4", model_family(seed=96, floats=BIG)[0])
        c4 = fleet.campaign("v4", "all_at_once")
        wait_for("v4 downloads in progress",
                 lambda: any(d["state"] == "downloading" and d.get("bytes_done", 0) > 0
                             for d in fleet.detail(c4)["devices"]), 30, 0.02)
        c5 = fleet.campaign("v5", "all_at_once")
        fleet.wait_campaign(c5, timeout=60)
        all_run(fleet, order, "v5")
        d4 = fleet.wait_campaign(c4, ("completed",), timeout=30)
        st = states(d4)
        check(all(s in ("superseded", "completed") for s in st.values()) and
              sum(s == "superseded" for s in st.values()) >= 1,
              f"supersede: the v4 campaign completed with "
              f"{sum(s == 'superseded' for s in st.values())} devices superseded by v5")
        check(not any(fleet.agents[d].lines(r"activated v4")
                      for d in order if st[d] != "completed"),
              "supersede: no superseded agent activated v4; every device runs v5")
    finally:
        fleet.close()


# ---------------------------------------------------------------------------------------------
# 3. failing health checks roll back; past the failure threshold the campaign halts itself

def scenario_health(work):
    n = 10
    bad = ["d03", "d04", "d07"]
    fleet = Fleet(OXIDE, work, model_id="net", fleet_id="fleet",
                  server_args=["--offline-after", "2"])
    try:
        fleet.start_server()
        order = ids(n)
        for d in order:
            # Bad devices' application only works with v1.
            extra = ["--health-check", 'test "$OXIDE_MODEL_VERSION" = v1',
                     "--health-timeout", "10"] if d in bad else []
            fleet.add_devices([d], extra=extra)
        log(f"server {fleet.server.url}, {n} devices, health check fails off v1 on {bad}")
        v1, tune = model_family(seed=3)
        install_v1(fleet, v1)

        fleet.upload("v2", tune(2))
        fleet.patch_from("v2", "v1")
        cid = fleet.campaign("v2", "all_at_once")
        fleet.wait_campaign(cid, ("completed", "completed_with_failures", "halted"), timeout=90)
        wait_rolled_back(fleet, bad, "v2")
        detail = fleet.detail(cid)
        st = states(detail)
        s = detail["summary"]
        check(detail["state"] == "completed_with_failures" and s["complete"] == n - len(bad) and
              s["failures"] == len(bad),
              f"no threshold: the campaign ends completed_with_failures "
              f"({s['complete']} complete, {s['failures']} failures), never plain completed")
        check(sorted(d for d, s in st.items() if s in FAILURES) == bad,
              f"devices {bad} reported failure: {[st[d] for d in bad]}")
        v1_sha = fleet.versions["v1"]["sha256"]
        for d in bad:
            check(fleet.agents[d].installed_sha("net") == v1_sha and
                  fleet.agents[d].lines(r"rolled back to v1"),
                  f"{d} rolled back to v1 (health check output: "
                  f"{(fleet.agents[d].state('net') or {}).get('last_error', '')[:60]!r})")
        all_run(fleet, [d for d in order if d not in bad], "v2")
        check(True, "healthy devices run v2")

        # Rolling by 2 with failure_threshold_count 2: batch 2 = d03, d04 both fail -> halted.
        fleet.upload("v3", tune(3))
        cid = fleet.campaign("v3", "rolling", batch_size=2, failure_threshold_count=2)
        detail = fleet.wait_campaign(cid, ("halted", "completed"), timeout=90)
        check(detail["state"] == "halted", "threshold reached: the campaign halted by itself")
        wait_heartbeats(fleet, order)
        detail = fleet.detail(cid)
        st = states(detail)
        check(detail["state"] == "halted" and all(st[d] == "waiting" for d in order[4:]),
              f"halted: the 6 devices after the failing batch stay unassigned: {st}")
        check(not any(fleet.agents[d].lines(r"assigned v3") for d in order[4:]),
              "halted: none of their agents saw v3")
        all_run(fleet, order[:2], "v3")
        wait_rolled_back(fleet, ["d03", "d04"], "v3")
        check(all(fleet.agents[d].installed_sha("net") == v1_sha for d in ("d03", "d04")),
              "d03, d04 rolled back to v1 again")
        status, _ = fleet.api.call("POST", f"/api/v1/campaigns/{cid}/resume")
        check(status == 409, "a halted campaign cannot be resumed (409)")

        # Canary 30 %: the wave is d01-d03 and d03 fails -> halted, nobody else assigned.
        fleet.upload("v4", tune(4))
        cid = fleet.campaign("v4", "canary", canary_percent=30)
        fleet.wait_campaign(cid, ("halted", "completed"), timeout=90)
        wait_rolled_back(fleet, ["d03"], "v4")
        detail = fleet.detail(cid)
        st = states(detail)
        check(detail["state"] == "halted" and st["d03"] in FAILURES and
              all(st[d] == "waiting" for d in order[3:]),
              f"canary: a failure in the wave halts the campaign (d03 {st['d03']}, 7 waiting)")
    finally:
        fleet.close()


# ---------------------------------------------------------------------------------------------
# 4. a device offline during a campaign catches up by patch from whatever it runs

def scenario_offline(work):
    n = 10
    fleet = new_fleet(work, n)
    try:
        order = ids(n)
        v1, tune = model_family(seed=4)
        install_v1(fleet, v1)
        for d in ("d09", "d10"):
            fleet.agents[d].stop()
        wait_for("d09, d10 offline",
                 lambda: all(fleet.device(d)["status"] == "offline" for d in ("d09", "d10")), 30)
        check(True, "agents d09, d10 stopped; server reports them offline")

        fleet.upload("v2", tune(2))
        p12 = fleet.patch_from("v2", "v1")
        c2 = fleet.campaign("v2", "all_at_once")
        wait_for("8 online devices completed",
                 lambda: sum(s == "completed" for s in states(fleet.detail(c2)).values()) == 8, 60)
        detail = fleet.detail(c2)
        away = [d for d in detail["devices"] if d["device_id"] in ("d09", "d10")]
        check(detail["state"] == "rolling_out" and
              [(d["state"], d["status"]) for d in away] == [("pending", "offline")] * 2,
              "campaign v2 waits for the two offline devices (pending, status offline)")

        fleet.agents["d09"].start()
        wait_for("d09 to complete v2", lambda: states(fleet.detail(c2))["d09"] == "completed", 60)
        got = fleet.agents["d09"].received_bytes("v2")
        check(got == [("patch", p12["size_bytes"])],
              f"d09 came back and caught up v1 -> v2 by patch ({got})")

        # v3 while d10 (still on v1) is away: supersedes v2 for d10.
        fleet.upload("v3", tune(3))
        c3 = fleet.campaign("v3", "all_at_once")
        detail = fleet.wait_campaign(c2, ("completed",), timeout=30)
        check(states(detail)["d10"] == "superseded", "campaign v2 completed: d10 superseded by v3")
        wait_for("9 online devices completed v3",
                 lambda: sum(s == "completed" for s in states(fleet.detail(c3)).values()) == 9, 60)
        p13 = fleet.patch_from("v3", "v1")
        check(p13["state"] == "ready",
              f"server prepared v1 -> v3 for the offline device ({p13['size_bytes']} bytes)")
        fleet.agents["d10"].start()
        detail = fleet.wait_campaign(c3, timeout=60)
        got = fleet.agents["d10"].received_bytes("v3")
        check(got == [("patch", p13["size_bytes"])],
              f"d10 came back and caught up v1 -> v3 by patch ({got}; full is "
              f"{fleet.versions['v3']['size_bytes']})")
        d10 = [d for d in detail["devices"] if d["device_id"] == "d10"][0]
        check(d10["bytes_served"] == p13["size_bytes"], "campaign charged d10 the patch size")
        all_run(fleet, order, "v3")
        check(True, "every device runs v3")
    finally:
        fleet.close()


# ---------------------------------------------------------------------------------------------
# 5. the server is SIGKILLed mid-campaign; after a restart the campaign finishes, nothing lost

def scenario_server_restart(work):
    n = 10
    # A first rollout of 16 MB of random weights at 8 MB/s per device: more than the loopback
    # socket buffers hold, so the crash cuts the downloads in flight. (Devices run nothing yet,
    # so the server has no patch to build: no CPU spent on diffing random data.)
    fleet = new_fleet(work, n, extra=["--max-recv-speed", str(8 << 20)])
    try:
        order = ids(n)
        blob = random_safetensors(seed=97, size=16 << 20)
        size = fleet.upload("v1", blob)["size_bytes"]
        cid = fleet.campaign("v1", "rolling", batch_size=3)

        def mid_download():
            devs = fleet.detail(cid)["devices"]
            return (sum(d["state"] == "completed" for d in devs) >= 3 and
                    any(d["state"] == "downloading" and (1 << 20) < d["bytes_done"] < (6 << 20)
                        for d in devs))
        wait_for("batch 1 completed and batch 2 downloading", mid_download, 60, 0.02)
        fleet.server.kill()
        log("server SIGKILLed")
        wait_for("an agent to notice the outage",
                 lambda: any(a.lines(r"heartbeat failed|retrying in")
                             for a in fleet.agents.values()), 30)
        fleet.server.start()
        log(f"server restarted on {fleet.server.url}")
        after = fleet.detail(cid)
        st = states(after)
        done_before = [d for d in order if st[d] == "completed"]
        check(after["state"] == "rolling_out" and len(done_before) >= 3,
              f"after restart: campaign still rolling out, {done_before} still completed")
        detail = fleet.wait_campaign(cid, timeout=120)
        devs = [d["device_id"] for d in detail["devices"]]
        s = detail["summary"]
        check(sorted(devs) == order and len(devs) == len(set(devs)),
              "campaign lists each of the 10 devices once")
        check(s["total"] == n and s["complete"] == n and s["failed"] == 0 and
              s.get("rolled_back", 0) == 0,
              f"summary: {s['complete']}/{s['total']} complete, 0 failed")
        listed = [c for c in fleet.api.get("/api/v1/campaigns")["campaigns"] if c["id"] == cid][0]
        check(listed["total"] == n and listed["complete"] == n, "campaign list agrees (10/10)")
        all_run(fleet, order, "v1")
        once = [d for d in order if len(fleet.agents[d].lines(r"assigned v1")) == 1 and
                len(fleet.agents[d].lines(r"committed v1")) == 1]
        check(once == order, "every agent was assigned v1 once and committed it once")
        resumed = {d: int(m.group(1)) for d in order
                   for _, m in fleet.agents[d].lines(r"resuming download of v1 at byte (\d+)")}
        check(resumed and all(0 < b < size for b in resumed.values()),
              f"downloads cut by the crash resumed with a Range request at: {resumed}")
        # A response's bytes are counted when it ends: those of the responses cut by the crash
        # died with the process. The rest is counted exactly once.
        served = {d["device_id"]: d["bytes_served"] for d in detail["devices"]}
        whole = {d: b for d, b in served.items() if d not in resumed and b != size}
        check(not whole, f"uninterrupted downloads counted once each ({size} bytes)"
              + (f": wrong for {whole}" if whole else ""))
        cut = {d: (served[d], size - off) for d, off in resumed.items()
               if not size - off <= served[d] <= size}
        check(not cut, "resumed downloads counted from the resume offset, at most the file size"
              + (f": wrong for {cut}" if cut else ""))
        check(s["bytes_served"] == sum(served.values()), "campaign total = sum over devices")
    finally:
        fleet.close()


# ---------------------------------------------------------------------------------------------
# 6. bytes the campaigns report = bytes the agents received

def scenario_bandwidth(work):
    n = 10
    fleet = new_fleet(work, n)
    try:
        order = ids(n)
        v1, tune = model_family(seed=6)
        fleet.upload("v1", v1)
        plan = [("v1", "all_at_once", {}, None),
                ("v2", "canary", {"canary_percent": 20}, "v1"),
                ("v3", "rolling", {"batch_size": 3}, "v2")]
        total_served = 0
        for version, strategy, options, base in plan:
            if version != "v1":
                fleet.upload(version, tune(int(version[1:])))
            if base:
                patch = fleet.patch_from(version, base)
                check(patch["state"] == "ready", f"patch {base} -> {version}: "
                      f"{patch['size_bytes']} bytes, strategy {patch.get('strategy')}")
            else:
                # No base on the devices: the first-install patch from the empty base when it
                # is smaller than the file (issue #13), else the file. Waited for, so that
                # which one the devices get is known.
                patch = fleet.patch_from_empty(version)
                check(patch["state"] in ("ready", "not_smaller"),
                      f"first-install patch of {version}: {patch['state']}, "
                      f"{patch['size_bytes']} bytes, strategy {patch.get('strategy')}")
                if patch["state"] != "ready":
                    patch = None
            cid = fleet.campaign(version, strategy, **options)
            detail = fleet.wait_campaign(cid, timeout=60)
            all_run(fleet, order, version)
            size = fleet.versions[version]["size_bytes"]
            agent_sum = 0
            for d in detail["devices"]:
                got = fleet.agents[d["device_id"]].received_bytes(version)
                received = sum(b for _, b in got)
                agent_sum += received
                want = [("patch", patch["size_bytes"])] if patch else [("full file", size)]
                if got != want or d["bytes_served"] != received:
                    raise AssertionError(f"{version} {d['device_id']}: agent received {got}, "
                                         f"expected {want}; campaign says {d['bytes_served']}")
            s = detail["summary"]
            check(s["bytes_served"] == agent_sum,
                  f"{version} ({strategy}): campaign bytes_served {s['bytes_served']} = sum of "
                  f"what the 10 agents logged receiving (and per device)")
            check(s["bytes_full_equivalent"] == n * size and
                  s["bytes_saved"] == n * size - agent_sum,
                  f"{version}: full equivalent {n} x {size}, saved {s['bytes_saved']}")
            total_served += agent_sum
        for d in order:
            dev = fleet.device(d)
            mine = sum(b for v in ("v1", "v2", "v3") for _, b in fleet.agents[d].received_bytes(v))
            if dev["bytes_served"] != mine:
                raise AssertionError(f"{d}: device bytes_served {dev['bytes_served']} != {mine}")
        check(True, "each device's bytes_served = what its agent received over 3 campaigns")
        status, metrics = fleet.api.call("GET", "/metrics")
        text = metrics.decode() if isinstance(metrics, bytes) else str(metrics)
        m = re.search(r"^oxide_bytes_served_total(?:\{[^}]*\})? (\d+)", text, re.M)
        check(m and int(m.group(1)) == total_served,
              f"/metrics oxide_bytes_served_total = {total_served}")
        check_example_pair_is_tensor(fleet)
        check_logs_followable(fleet, order, "v3")
    finally:
        fleet.close()


def check_example_pair_is_tensor(fleet):
    """The bundled torch-exported pair (examples/models) must patch with the tensor strategy: a
    silent fallback to the binary path fails the suite. (Tiny generated models may legitimately
    get a smaller binary patch, so the check uses the real pair, under its own model id.)"""
    models = os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples", "models")
    shas = {}
    for version, name in (("v1", "mlp-mnist-v1.onnx"), ("v2", "mlp-mnist-v2-last-layer.onnx")):
        with open(os.path.join(models, name), "rb") as f:
            shas[version] = fleet.api.ok("POST", f"/api/v1/models/example/versions/{version}",
                                         raw=f.read(), timeout=120)["sha256"]

    def settled():
        meta = fleet.api.get("/api/v1/models/example/versions/v2/meta")
        return next((p for p in meta.get("patches") or [] if p.get("base_sha256") == shas["v1"]
                     and p.get("state") != "pending"), None)
    patch = wait_for("example patch v1 -> v2", settled, 120, 0.1)
    check(patch.get("strategy") == "tensor",
          f"example pair patch is {patch.get('strategy')} ({patch.get('size_bytes')} bytes), "
          "expected tensor")


def check_logs_followable(fleet, devices, version):
    """The logs a person reads: the server's one line per request (with the device), and each
    agent's download progress as plain lines, since its stderr is a pipe here, not a terminal."""
    with open(fleet.server.log_path, errors="replace") as f:
        server_log = f.read()
    for d in devices:
        rx = (r"info  oxide serve: request method=GET path=/api/v1/models/\S+/versions/"
              + re.escape(version) + r"/download status=20[06] bytes=\d+ ms=\S+ device="
              + re.escape(d) + "$")
        if not re.search(rx, server_log, re.M):
            raise AssertionError(f"server log: no request line for {d}'s {version} download")
        if not fleet.agents[d].lines(r"oxide-agent: \S+: downloading " + re.escape(version)
                                     + r" \((patch|full file)\): .* \(100%\)"):
            raise AssertionError(f"{d}'s agent log: no download progress line for {version}")
    check(re.search(r"oxide serve: request method=POST path=/api/v1/devices/\S+/heartbeat "
                    r"status=200 ", server_log),
          f"server log: a line per request (downloads of {version} by each device, heartbeats); "
          f"agent logs: download progress lines")


# ---------------------------------------------------------------------------------------------
# 7. outcomes an operator can trust: a campaign whose devices all fail ends in a failure state
#    with counts and first cause; after the halt nobody gets it again; clearing the refusal
#    lets the devices install the version once their problem is fixed

def scenario_outcomes(work):
    n = 4
    order = ids(n)
    fixed = os.path.join(work, "runtime-fixed")
    # v2 needs something the devices lack until `fixed` exists; one failure poisons a version.
    check_cmd = (f'test "$OXIDE_MODEL_VERSION" != v2 || test -e {fixed} || '
                 '{ echo "checking v2"; echo "v2 needs the new runtime" >&2; exit 3; }')
    fleet = Fleet(OXIDE, work, model_id="net", fleet_id="fleet",
                  server_args=["--offline-after", "2"])
    try:
        fleet.start_server()
        fleet.add_devices(order, extra=["--health-check", check_cmd, "--health-timeout", "10",
                                        "--max-attempts", "1"])
        log(f"server {fleet.server.url}, {n} devices; v2 fails their health check")
        v1, tune = model_family(seed=7)
        install_v1(fleet, v1)
        dev = fleet.device("d01")
        check(dev["platform"] and dev["platform"]["os"] == "linux" and dev["platform"]["arch"]
              and dev["fleet_id"] == "fleet" and dev["last_update_result"] == "success",
              f"device shows platform {dev['platform']}, fleet_id and last_update_result")

        # Every device fails the health check: the 100 % threshold halts the campaign.
        fleet.upload("v2", tune(2))
        cid = fleet.campaign("v2", "all_at_once", failure_threshold_percent=100)
        detail = fleet.wait_campaign(cid, ("halted", "failed", "completed_with_failures",
                                           "completed"), timeout=90)
        halted_at = time.monotonic()
        s = detail["summary"]
        check(detail["state"] == "halted" and s["rolled_back"] == n and s["failures"] == n and
              s["complete"] == 0, f"all {n} devices failed: campaign halted, summary "
              f"{ {k: s[k] for k in ('total', 'complete', 'rolled_back', 'failures')} }")
        first = detail["first_failure"]
        check(first and first["outcome"] == "rolled_back" and first["stage"] == "health_check"
              and first["exit_status"] == 3 and "health check of v2 failed" in first["error"]
              and "v2 needs the new runtime" in (first["output"] or ""),
              f"first cause visible: {first['device_id']}: {first['error'][:70]!r}")
        check(len(detail["history"]) == n and
              all(h["outcome"] == "rolled_back" for h in detail["history"]),
              f"campaign history holds the {n} failed attempts, each stored once")
        wait_rolled_back(fleet, order, "v2")
        hist = fleet.device("d02")["history"]
        check(hist and hist[0]["version"] == "v2" and hist[0]["exit_status"] == 3 and
              fleet.device("d02")["last_update_result"].get("failed"),
              "device view shows its history (newest first) and last_update_result failed")

        # After the halt nobody receives v2 again: >= 3 heartbeats of every device later.
        assigned = {d: len(fleet.agents[d].lines(r"assigned v2")) for d in order}
        wait_heartbeats(fleet, order, rounds=3)
        back = {d: (fleet.device(d)["assignment"] or {}).get("version") for d in order}
        check(set(back.values()) == {"v1"} and
              {d: len(fleet.agents[d].lines(r"assigned v2")) for d in order} == assigned and
              all(n_ == 1 for n_ in assigned.values()),
              f"after the halt ({time.monotonic() - halted_at:.1f}s, >= 3 heartbeats each): "
              f"every device is assigned v1 again and no agent was assigned v2 again")
        check(fleet.detail(cid)["state"] == "halted", "the campaign stays halted")

        # Campaign again while the devices refuse v2: it ends `failed`, the refusal visible.
        c2 = fleet.campaign("v2", "all_at_once")
        detail = fleet.wait_campaign(c2, ("failed", "completed_with_failures", "completed"),
                                     timeout=60)
        first = detail["first_failure"]
        check(detail["state"] == "failed" and detail["summary"]["failed"] == n and
              first["outcome"] == "refused" and "refused" in first["error"],
              f"the devices refuse v2: campaign failed, {detail['summary']['failed']} failed "
              f"({first['error']!r})")

        # The runtime is fixed; the operator clears the refusal; a new campaign installs v2.
        with open(fixed, "w") as f:
            f.write("ok\n")
        cleared = fleet.api.post(f"/api/v1/campaigns/{c2}/clear-refusals")
        check(cleared["devices"] == n, f"refusal cleared for {cleared['devices']} devices")
        wait_for("agents to apply the clearance",
                 lambda: all(fleet.agents[d].lines(r"cleared the refusal of v2") for d in order),
                 30, 0.1)
        c3 = fleet.campaign("v2", "all_at_once")
        detail = fleet.wait_campaign(c3, ("completed", "completed_with_failures", "failed"),
                                     timeout=90)
        check(detail["state"] == "completed" and detail["summary"]["complete"] == n,
              "after clearing, a new campaign installs v2 on every device (completed)")
        all_run(fleet, order, "v2")
        check(True, "every device runs v2; no state file was touched by hand")
    finally:
        fleet.close()


SCENARIOS = {
    "strategies": scenario_strategies,
    "pause_resume": scenario_pause_resume,
    "abort": scenario_abort,
    "health": scenario_health,
    "offline": scenario_offline,
    "server_restart": scenario_server_restart,
    "bandwidth": scenario_bandwidth,
    "outcomes": scenario_outcomes,
}


def run(name):
    work = tempfile.mkdtemp(prefix=f"oxide-e2e-{name}-")
    start = time.monotonic()
    log(f"=== {name} (work dir {work})")
    try:
        SCENARIOS[name](work)
    except Exception:
        log(f"FAIL {name} after {time.monotonic() - start:.1f}s")
        traceback.print_exc()
        dump_logs(work)
        if not os.environ.get("OXIDE_E2E_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        return False
    log(f"PASS {name} in {time.monotonic() - start:.1f}s")
    if not os.environ.get("OXIDE_E2E_KEEP"):
        shutil.rmtree(work, ignore_errors=True)
    return True


def dump_logs(work):
    paths = [os.path.join(work, "server.log")]
    devices = os.path.join(work, "devices")
    if os.path.isdir(devices):
        paths += [os.path.join(devices, d, "agent.log") for d in sorted(os.listdir(devices))]
    for p in paths:
        if os.path.exists(p):
            with open(p, errors="replace") as f:
                lines = f.readlines()[-15:]
            print(f"----- {os.path.relpath(p, work)} (last {len(lines)} lines) -----")
            print("".join(lines), end="", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or (sys.argv[2] not in SCENARIOS and sys.argv[2] != "all"):
        sys.exit(f"usage: {sys.argv[0]} OXIDE {{{'|'.join(SCENARIOS)}|all}}")
    OXIDE = os.path.abspath(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up on ctest timeout
    names = list(SCENARIOS) if sys.argv[2] == "all" else [sys.argv[2]]
    results = {n: run(n) for n in names}
    for n, r in results.items():
        log(f"{n}: {'PASS' if r else 'FAIL'}")
    sys.exit(0 if all(results.values()) else 1)
