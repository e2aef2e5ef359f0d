#!/usr/bin/env python3
"""Integration (issue #12): two `oxide serve` replicas behave as one control plane.

Both replicas use ONE database (`--database`: a shared SQLite file, or PostgreSQL with
`--backend postgresql`) and one shared `--data-dir` (the blobs). A round-robin TCP load balancer
(in this file) stands in front of them; real `oxide agent --once` processes talk only to it, so
their requests are split between the replicas. Checked:
  - a canary campaign of v1 then one of v2 complete; v2 goes to the devices as a patch;
  - each patch job (v1 -> v2, and each version's first-install patch from the empty base) is
    built exactly once (the oxide_patch_build_seconds counts of both replicas' /metrics, and the
    "patch build started" lines of both logs);
  - both replicas stream the same events (same stream_id, same ids: the shared event log);
  - one replica is killed (SIGKILL) in the middle of the v2 campaign: the balancer routes to the
    survivor, which finishes it; no device is assigned twice: per device, the campaign lists it
    once, completed, with no failed attempt and one download's bytes, and its agent logged
    activating each version exactly once.
Every wait polls observable state against a deadline; nothing sleeps as synchronisation.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pg_common import ThrowawayCluster, exit_on_sigterm  # noqa: E402
from server_common import ServerProcess, two_model_versions, wait_until  # noqa: E402

DEVICES = ["cam-%d" % i for i in range(6)]
AGENT_OUTPUT = {d: [] for d in DEVICES}  # every `agent --once` output, per device


class RoundRobin:
    """A TCP load balancer: each new connection goes to the next backend that accepts it (a dead
    one refuses at once, so its turn passes to the next). Counts connections per backend."""

    def __init__(self, ports):
        self.ports = list(ports)
        self.hits = {p: 0 for p in self.ports}
        self.turn = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _connect(self):
        for _ in range(len(self.ports)):
            with self.lock:
                port = self.ports[self.turn % len(self.ports)]
                self.turn += 1
            try:
                up = socket.create_connection(("127.0.0.1", port), timeout=5)
                up.settimeout(None)
            except OSError:
                continue
            with self.lock:
                self.hits[port] += 1
            return up
        return None

    def _serve(self, client):
        up = self._connect()
        if up is None:
            client.close()
            return

        def pipe(src, dst):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
                try:
                    s.shutdown(how)
                except OSError:
                    pass

        t = threading.Thread(target=pipe, args=(up, client), daemon=True)
        t.start()
        pipe(client, up)
        t.join()
        client.close()
        up.close()


class Lb:
    """The admin API through the balancer (the replicas share the admin token)."""

    def __init__(self, lb, token):
        self.lb = lb
        self.token = token

    def json(self, method, path, body=None, expect=200):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.lb.port, timeout=60)
        h = {"Authorization": "Bearer " + self.token}
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        if resp.status != expect:
            raise AssertionError("%s %s -> %d (want %d): %s" % (method, path, resp.status, expect,
                                                                data))
        return json.loads(data) if data else None


def metric_sum(srv, name, labels):
    """Sum of the samples of `name` whose labels include `labels` (text format)."""
    status, _, body = srv.request("GET", "/metrics")
    assert status == 200, status
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith(name) and all('%s="%s"' % kv in line for kv in labels.items()):
            if line[len(name)] in " {":
                total += float(line.rsplit(" ", 1)[1])
    return total


def patch_builds(srv):
    return metric_sum(srv, "oxide_patch_build_seconds_count", {"result": "ok"})


def events_hello_and_ids(srv, after=0, want_ids=1):
    """The hello data and the first `want_ids` event ids a stream resuming after `after` sends."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(("GET /api/v1/events?last_event_id=%d HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer %s\r\n\r\n" % (after, srv.token)).encode())
    buf = b""
    hello, ids = None, []
    try:
        while hello is None or len(ids) < want_ids:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            text = buf.decode(errors="replace")
            if hello is None and "event: hello" in text:
                line = text.split("event: hello", 1)[1].split("data: ", 1)[1].split("\n", 1)[0]
                hello = json.loads(line)
            ids = [int(l[4:]) for l in text.splitlines() if l.startswith("id: ")]
            assert "event: reset" not in text, text
    finally:
        s.close()
    return hello, ids[:want_ids]


def agent_once(oxide, lb, tmp, device, token_file):
    model_dir = os.path.join(tmp, "agents", device)
    os.makedirs(model_dir, exist_ok=True)
    p = subprocess.run([oxide, "agent", "--control-plane", "http://127.0.0.1:%d" % lb.port,
                        "--device-id", device, "--model-dir", model_dir,
                        "--enrollment-token-file", token_file, "--allow-unsigned-releases",
                        "--once"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert p.returncode == 0, "%s: exit %d\n%s" % (device, p.returncode, p.stdout)
    AGENT_OUTPUT[device].append(p.stdout)


def run_campaign_round(oxide, lb, tmp, token_file):
    for d in DEVICES:
        agent_once(oxide, lb, tmp, d, token_file)


def started_builds(paths):
    """(base, target) of every "patch build started" line of the replicas' logs."""
    out = []
    for path in paths:
        with open(path, errors="replace") as f:
            for line in f:
                if "patch build started" in line:
                    m = re.search(r'base=("[^"]*"|\S+) target=("[^"]*"|\S+)', line)
                    out.append(m.groups() if m else line)
    return out


def run(args, tmp, servers, database):
    data = os.path.join(tmp, "shared-data")
    logs = [os.path.join(tmp, "replica-%s.log" % n) for n in "ab"]
    for name, log in zip("ab", logs):
        # One after the other: the first start writes the admin token both then use.
        servers.append(ServerProcess(args.oxide, data, log,
                                     ["--database", database, "--instance-id", "replica-" + name,
                                      "--poll-interval", "1"]))
    a, b = servers
    lb = RoundRobin([a.port, b.port])
    api = Lb(lb, a.token)

    api.json("POST", "/api/v1/fleets", {"id": "cams", "name": "Cameras"}, expect=201)
    token_file = os.path.join(tmp, "enroll.token")
    with open(token_file, "w") as f:
        f.write(api.json("POST", "/api/v1/fleets/cams/enrollment-tokens", expect=201)["token"])
    run_campaign_round(args.oxide, lb, tmp, token_file)  # enrol + first heartbeat

    v1, v2 = two_model_versions()
    api.json("POST", "/api/v1/models/detector/versions/1.0", v1, expect=201)
    c1 = api.json("POST", "/api/v1/campaigns",
                  {"model_id": "detector", "model_version": "1.0", "fleet_id": "cams",
                   "strategy": "canary", "canary_percent": 34}, expect=201)["id"]

    def finish(cid):
        def done():
            run_campaign_round(args.oxide, lb, tmp, token_file)
            return api.json("GET", "/api/v1/campaigns/" + cid)["state"] == "completed"
        wait_until("campaign %s completed" % cid, done, timeout=180, interval=0)

    finish(c1)
    assert all(lb.hits[p] > 0 for p in (a.port, b.port)), lb.hits  # the agents used both

    # v2: the patch v1 -> v2, and (as for v1) the one from the empty base for first installs;
    # each job built by whichever replica claims it first.
    api.json("POST", "/api/v1/models/detector/versions/2.0", v2, expect=201)

    def patch_states(version):
        meta = api.json("GET", "/api/v1/models/detector/versions/%s/meta" % version)
        states = {p["base_version"] or "(empty)": p["state"] for p in meta["patches"]}
        return states if states and all(s != "pending" for s in states.values()) else None
    assert set(wait_until("v1 patches built", lambda: patch_states("1.0"),
                          timeout=120)) == {"(empty)"}
    v2_patches = wait_until("v2 patches built", lambda: patch_states("2.0"), timeout=120)
    assert set(v2_patches) == {"(empty)", "1.0"} and v2_patches["1.0"] == "ready", v2_patches
    jobs = 3  # empty -> 1.0, empty -> 2.0, 1.0 -> 2.0
    builds = (patch_builds(a), patch_builds(b))
    assert sum(builds) == jobs, "patch builds per replica: %s" % (builds,)
    started = started_builds(logs)
    assert len(started) == jobs and len(set(started)) == jobs, started

    # The shared event log: both replicas stream the same ids under one stream_id.
    hello_a, ids_a = events_hello_and_ids(a, want_ids=3)
    hello_b, ids_b = events_hello_and_ids(b, want_ids=3)
    assert hello_a["stream_id"] == hello_b["stream_id"], (hello_a, hello_b)
    assert ids_a == ids_b and len(ids_a) == 3, (ids_a, ids_b)

    c2 = api.json("POST", "/api/v1/campaigns",
                  {"model_id": "detector", "model_version": "2.0", "fleet_id": "cams",
                   "strategy": "canary", "canary_percent": 34}, expect=201)["id"]
    # The canary wave (2 of 6 devices) installs; then replica b dies mid-campaign.
    def canary_done():
        run_campaign_round(args.oxide, lb, tmp, token_file)
        s = api.json("GET", "/api/v1/campaigns/" + c2)["summary"]
        return s["complete"] >= 2
    wait_until("v2 canary wave", canary_done, timeout=180, interval=0)
    b_builds = patch_builds(b)
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait(timeout=30)
    hits_before = lb.hits[a.port]
    finish(c2)
    assert lb.hits[a.port] > hits_before, lb.hits

    done = api.json("GET", "/api/v1/campaigns/" + c2)
    assert done["summary"]["complete"] == len(DEVICES), done["summary"]
    assert done["summary"]["bytes_served"] < done["summary"]["bytes_full_equivalent"], \
        done["summary"]  # the devices got the patch, not the full file
    for d in DEVICES:
        dev = api.json("GET", "/api/v1/devices/" + d)
        assert dev["current_model_version"] == "2.0", dev
    # No device assigned twice: each listed once, completed, no failed attempt, the same bytes
    # (one patch download each: a second assignment would download again).
    devices = done["devices"]
    assert sorted(d["device_id"] for d in devices) == sorted(DEVICES), devices
    assert all(d["state"] == "completed" for d in devices), devices
    assert done["history"] == [], done["history"]
    served = {d["device_id"]: d["bytes_served"] for d in devices}
    assert len(set(served.values())) == 1 and min(served.values()) > 0, served
    for d in DEVICES:
        for version in ("1.0", "2.0"):
            n = sum(out.count("activated " + version) for out in AGENT_OUTPUT[d])
            assert n == 1, "%s activated %s %d times:\n%s" % (d, version, n,
                                                               "".join(AGENT_OUTPUT[d])[-4000:])
    assert patch_builds(a) + b_builds == jobs, "patch rebuilt after the kill"
    started = started_builds(logs)
    assert len(started) == jobs, "'patch build started' logged for %s" % started
    print("replicas e2e OK (%s): connections per replica %s, patch built by %s" %
          (args.backend, sorted(lb.hits.values()),
           "a" if builds[0] else "b"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxide", required=True)
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = ap.parse_args()
    exit_on_sigterm()  # the finally below stops the replicas; the watchdog stops PostgreSQL
    tmp = tempfile.mkdtemp(prefix="oxide-replicas-")
    os.chmod(tmp, 0o755)  # pg_throwaway runs PostgreSQL as "postgres" under it
    servers = []
    cluster = None
    ok = False
    try:
        if args.backend == "postgresql":
            cluster = ThrowawayCluster(os.path.join(tmp, "pg"))
            database = cluster.start()
            assert database, "scripts/pg_throwaway start failed (apt-get install postgresql)"
        else:
            database = "sqlite:" + os.path.join(tmp, "shared.db")
        run(args, tmp, servers, database)
        ok = True
    finally:
        for s in servers:
            if s.proc.poll() is None:
                rc, _ = s.stop()
                if ok:
                    assert rc == 0, "server exit code %d" % rc
        if not ok:
            for n in "ab":
                path = os.path.join(tmp, "replica-%s.log" % n)
                if os.path.exists(path):
                    sys.stderr.write("---- replica %s ----\n" % n + open(path).read()[-20000:])
        if cluster:
            cluster.stop()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
