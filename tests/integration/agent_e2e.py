#!/usr/bin/env python3
"""End-to-end test of `oxide agent` against a real `oxide serve` on loopback (stdlib only).

usage: agent_e2e.py path/to/oxide

Phases: v1 by full download; v2 as a patch (bytes on the wire ~ patch size, reported to the
campaign); v3 full download killed with SIGKILL mid-way and resumed after restart; v4 with a
corrupted patch in the server's blob store -> full-download fallback, reported in a heartbeat
after the commit; SIGTERM stops the agent
promptly; v5 fails its health check -> rolled back to v4 (not retried in that campaign), and
after 3 failures (3 campaigns) it is refused.
Every wait polls observable state against a deadline; nothing sleeps as synchronisation.
"""
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_common  # noqa: E402  (same directory: the shared deadline wait)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "scripts", "demo_lib"))
from signing import ReleaseSigner  # noqa: E402  (every upload is signed; agents verify)

OXIDE = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/oxide")
MODEL_SIZE = int(float(os.environ.get("OXIDE_E2E_MODEL_MB", "20")) * (1 << 20))
RECV_SPEED = MODEL_SIZE // 5  # bytes/s: a full download takes ~5 s, long enough to kill mid-way
WORK = tempfile.mkdtemp(prefix="oxide-agent-e2e-")
PROCS = []
SIGNER = ReleaseSigner(OXIDE, WORK)


def log(msg):
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def wait_for(what, pred, timeout=60.0, interval=0.05):
    return server_common.wait_until(what, pred, timeout=timeout, interval=interval)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)
    log("ok: " + msg)


class Api:
    def __init__(self, base, token):
        self.base = base
        self.token = token

    def call(self, method, path, body=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def ok(self, method, path, body=None, raw=None):
        status, js = self.call(method, path, body, raw)
        if status >= 300:
            raise AssertionError(f"{method} {path}: HTTP {status}: {js}")
        return js


def sha(b):
    return hashlib.sha256(b).hexdigest()


def make_model(seed):
    # Random-ish little-endian float32 values: incompressible enough that only a real delta helps.
    return random.Random(seed).randbytes(MODEL_SIZE)


def perturb(b, seed):
    out = bytearray(b)
    rng = random.Random(seed)
    for _ in range(200):  # ~1% of the bytes change, in 200 runs
        n = max(4, len(out) // 20000) & ~3
        off = rng.randrange(0, len(out) - n) & ~3
        out[off:off + n] = rng.randbytes(n)
    return bytes(out)


def start_server():
    out = open(os.path.join(WORK, "server.log"), "w")
    p = subprocess.Popen([OXIDE, "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir",
                          os.path.join(WORK, "server"), "--poll-interval", "1"],
                         stdout=subprocess.PIPE, stderr=out, text=True)
    PROCS.append(p)
    line = p.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if not m:
        raise AssertionError(f"server did not announce its port: {line!r}")
    return p, f"http://127.0.0.1:{m.group(1)}"


class Agent:
    def __init__(self, url, model_dir, health=None):
        self.args = [OXIDE, "agent", "--control-plane", url, "--device-id", "dev1",
                     "--model-dir", model_dir, "--poll-interval", "0.2",
                     "--max-recv-speed", str(RECV_SPEED), *SIGNER.agent_args()]
        if health:
            self.args += ["--health-check", health, "--health-timeout", "10"]
        self.logpath = os.path.join(WORK, "agent.log")
        self.proc = None

    def start(self):
        out = open(self.logpath, "a")
        self.proc = subprocess.Popen(self.args, stdout=out, stderr=out)
        PROCS.append(self.proc)

    def log_text(self):
        with open(self.logpath) as f:
            return f.read()


def main():
    server, url = start_server()
    api = Api(url, server_common.admin_token(os.path.join(WORK, "server")))
    log(f"server at {url}, work dir {WORK}")
    model_dir = os.path.join(WORK, "device", "models")
    active = os.path.join(model_dir, "m")
    state_file = os.path.join(model_dir, ".oxide", "m", "state.json")
    partial = os.path.join(model_dir, ".oxide", "m", "partial")

    def active_sha():
        try:
            with open(active, "rb") as f:
                return sha(f.read())
        except FileNotFoundError:
            return None

    def state():
        try:
            with open(state_file) as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def upload(version, blob):
        reply = api.ok("POST", f"/api/v1/models/m/versions/{version}", raw=blob)
        SIGNER.publish(api, "m", version, blob)
        return reply

    def wait_patch_settled(version, base_sha):
        def settled():
            meta = api.ok("GET", f"/api/v1/models/m/versions/{version}/meta")
            for p in meta.get("patches") or []:
                if p["base_sha256"] == base_sha and p["state"] != "pending":
                    return p
            return None
        return wait_for(f"patch to {version}", settled, timeout=300, interval=0.2)

    def campaign(version):
        js = api.ok("POST", "/api/v1/campaigns",
                    {"model_id": "m", "model_version": version, "fleet_id": "f1"})
        return js["id"]

    def campaign_device_state(cid):
        js = api.ok("GET", f"/api/v1/campaigns/{cid}")
        for d in js.get("devices", []):
            if d.get("device_id") == "dev1":
                return d.get("state")
        return None

    v1 = make_model(1)
    v2 = perturb(v1, 2)
    v3 = make_model(3)
    v4 = perturb(v3, 4)
    v5 = perturb(v4, 5)

    # --- enrollment without a token: pending until accepted; then v1 by full download ---
    api.ok("POST", "/api/v1/fleets", {"id": "f1", "name": "fleet one"})
    check(Api(url, "oxide_" + "A" * 43).call("GET", "/api/v1/devices")[0] == 401,
          "an unknown operator token is refused (401)")
    agent = Agent(url, model_dir)
    agent.start()
    wait_for("agent enrollment", lambda: api.call("GET", "/api/v1/devices/dev1")[0] == 200)
    check(api.ok("GET", "/api/v1/devices/dev1")["auth_state"] == "pending",
          "the agent enrolled itself and waits as pending")
    secret_file = os.path.join(model_dir, ".oxide", "device.secret")
    check(os.stat(secret_file).st_mode & 0o777 == 0o600, "device.secret is private (0600)")
    wait_for("the agent to log that it is pending", lambda: "device pending" in agent.log_text())
    with open(secret_file) as f:
        secret = f.read().strip()
    req = urllib.request.Request(url + "/api/v1/devices/dev1/heartbeat", data=b"{}", method="POST")
    req.add_header("Authorization", "Bearer " + secret)
    req.add_header("X-Oxide-Device-Id", "dev1")
    req.add_header("Content-Type", "application/json")
    try:
        urllib.request.urlopen(req, timeout=10)
        pending_status = 200
    except urllib.error.HTTPError as e:
        pending_status = e.code
    check(pending_status == 403, "a pending device's heartbeat is refused (403)")
    api.ok("POST", "/api/v1/devices/dev1/accept")
    api.ok("POST", "/api/v1/fleets/f1/devices/dev1")
    wait_for("the accepted agent to heartbeat",
             lambda: api.ok("GET", "/api/v1/devices/dev1")["last_heartbeat"] is not None)
    check(agent.log_text().count("device pending") == 1, "pending was logged once")
    upload("v1", v1)
    c1 = campaign("v1")
    wait_for("v1 active", lambda: active_sha() == sha(v1), timeout=120)
    wait_for("v1 committed", lambda: (state() or {}).get("installed", {}) and
             state()["installed"]["version"] == "v1")
    check(True, "v1 installed by full download")
    wait_for("campaign 1 sees completion", lambda: campaign_device_state(c1) == "completed")

    # --- v2 as a patch ---
    upload("v2", v2)
    patch = wait_patch_settled("v2", sha(v1))
    check(patch["state"] == "ready", f"server built a v1->v2 patch ({patch['size_bytes']} bytes)")
    c2 = campaign("v2")
    wait_for("v2 active", lambda: active_sha() == sha(v2), timeout=120)
    wait_for("campaign 2 completed", lambda: campaign_device_state(c2) == "completed")
    summary = api.ok("GET", f"/api/v1/campaigns/{c2}")["summary"]
    served = summary.get("bytes_served", 0)
    check(0 < served <= patch["size_bytes"] * 1.1,
          f"v2 came as a patch: campaign reports {served} bytes served "
          f"(patch {patch['size_bytes']}, full {len(v2)})")
    check("patch" in agent.log_text(), "agent log mentions the patch")

    # --- v3: full download, SIGKILL mid-way, resume after restart ---
    upload("v3", v3)
    wait_patch_settled("v3", sha(v2))
    c3 = campaign("v3")
    def partial_size():
        try:
            return os.path.getsize(partial)
        except FileNotFoundError:
            return 0
    def reported_progress():
        js = api.ok("GET", f"/api/v1/campaigns/{c3}")
        d = [x for x in js.get("devices", []) if x.get("device_id") == "dev1"]
        return d and d[0].get("state") == "downloading" and d[0].get("bytes_done", 0) > 0 and d[0]
    prog = wait_for("download progress in a heartbeat", reported_progress, timeout=120)
    check(prog["bytes_total"] == len(v3),
          f"progress heartbeat during the download: {prog['bytes_done']}/{prog['bytes_total']}")
    wait_for("v3 download 30% done", lambda: partial_size() > len(v3) * 0.3, timeout=120,
             interval=0.02)
    agent.proc.send_signal(signal.SIGKILL)
    agent.proc.wait()
    at_kill = partial_size()
    check(at_kill < len(v3), f"agent killed with SIGKILL at {at_kill} of {len(v3)} bytes")
    check(active_sha() == sha(v2), "active model still v2 after the kill")
    agent.start()
    wait_for("v3 active", lambda: active_sha() == sha(v3), timeout=120)
    m = re.findall(r"resuming download of v3 at byte (\d+)", agent.log_text())
    # The agent resumes from the last fsynced point it recorded (every 1 MiB): bytes after it
    # are not trusted, as they may be garbage after a power loss.
    sync_every = 1 << 20
    check(m and at_kill - sync_every <= int(m[0]) <= at_kill,
          f"resumed at byte {m[0] if m else None}, the last sync point (killed at {at_kill})")
    wait_for("campaign 3 completed", lambda: campaign_device_state(c3) == "completed")
    # Fetched twice = what the agent had written when it died minus where it resumed. (The
    # server's own count also includes what sat in socket buffers when the agent was killed.)
    twice = max(0, at_kill - int(m[0]))
    served3 = api.ok("GET", f"/api/v1/campaigns/{c3}")["summary"].get("bytes_served", 0)
    check(twice <= sync_every and twice < len(v3) * 0.10,
          f"{twice} bytes fetched twice (<= one sync interval, < 10% of {len(v3)}); "
          f"server wrote {served3} for {len(v3)}")
    # Loopback socket buffers hold several MB; allow them, but not a second full download.
    check(served3 < len(v3) * 1.5, "server-side bytes for v3 bounded (< 150%)")

    # --- v4: the patch in the server's store is corrupted -> full-download fallback ---
    upload("v4", v4)
    patch4 = wait_patch_settled("v4", sha(v3))
    check(patch4["state"] == "ready", "server built a v3->v4 patch")
    blobs = os.path.join(WORK, "server", "blobs")
    victims = [f for f in os.listdir(blobs)
               if os.path.isfile(os.path.join(blobs, f)) and
               os.path.getsize(os.path.join(blobs, f)) == patch4["size_bytes"]]
    check(len(victims) == 1, "found the patch blob in the server store")
    path = os.path.join(blobs, victims[0])
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(patch4["size_bytes"] // 2)
        chunk = f.read(64)
        f.seek(patch4["size_bytes"] // 2)
        f.write(bytes(b ^ 0xFF for b in chunk))
    c4 = campaign("v4")
    wait_for("v4 active", lambda: active_sha() == sha(v4), timeout=120)
    # The server hashes whole-file responses as it sends them: the corrupt patch is cut short
    # before its last chunk (never served complete), removed, and its job rebuilt; the agent's
    # retry gets an intact payload. (The agent's own patch-failure fallback is covered by its
    # unit tests: the server no longer serves a patch that does not hash to its name.)
    with open(os.path.join(WORK, "server.log")) as f:
        server_log = f.read()
    check("response cut short" in server_log and "removing corrupt blob" in server_log,
          "server detected the corrupt patch blob, cut the response and removed the blob")
    wait_for("campaign 4 completed", lambda: campaign_device_state(c4) == "completed")

    # --- SIGTERM stops the agent within a few seconds ---
    t0 = time.monotonic()
    agent.proc.send_signal(signal.SIGTERM)
    rc = agent.proc.wait(timeout=10)
    check(rc == 0 and time.monotonic() - t0 < 5, f"SIGTERM stopped the agent (rc {rc})")

    # --- v5 fails its health check: rollback, then refused after 3 failures ---
    # This agent reads most of its flags from a JSON config file.
    config = os.path.join(WORK, "agent.json")
    with open(config, "w") as f:
        json.dump({"control-plane": url, "device-id": "dev1", "model-dir": model_dir,
                   "poll-interval": 0.2, "health-check": 'test "$OXIDE_MODEL_VERSION" != v5',
                   "health-timeout": 10, "trusted-keys": SIGNER.keys}, f)
    agent = Agent(url, model_dir)
    agent.args = [OXIDE, "agent", "--config", config, "--max-recv-speed", str(RECV_SPEED)]
    agent.start()
    upload("v5", v5)
    wait_patch_settled("v5", sha(v4))
    c5 = campaign("v5")
    wait_for("v5 rolled back", lambda: (state() or {}).get("last_outcome") == "rolled_back",
             timeout=120)
    check(active_sha() == sha(v4), "failed health check rolled back to v4")
    wait_for("campaign 5 sees the rollback",
             lambda: campaign_device_state(c5) == "rolled_back")
    check(True, "server reports device state rolled_back (final)")
    # The failed device gets v4 back at once: three more heartbeats, no second attempt.
    seen = set()
    wait_for("3 more heartbeats",
             lambda: seen.add(api.ok("GET", "/api/v1/devices/dev1")["last_heartbeat"]) or
             len(seen) >= 4, timeout=30)
    check(agent.log_text().count("assigned v5") == 1 and
          (api.ok("GET", "/api/v1/devices/dev1")["assignment"] or {}).get("version") == "v4",
          "v5 not retried in its campaign; the device is assigned v4 again")
    check(campaign_device_state(c5) == "rolled_back", "the rollback never flips back")
    # Two more campaigns fail the same way; the third is refused (--max-attempts 3).
    for n in (2, 3):
        cn = campaign("v5")
        wait_for(f"v5 rolled back ({n})", lambda: campaign_device_state(cn) == "rolled_back",
                 timeout=120)
    wait_for("v5 poison count 3", lambda: (state() or {}).get("poison", {}).get("failures") == 3)
    c8 = campaign("v5")
    wait_for("v5 refused", lambda: "refused" in ((state() or {}).get("last_error") or ""),
             timeout=120)
    st = state()
    check(st["poison"] == {"version": "v5", "failures": 3}, f"poison pill after 3 failures: {st['poison']}")
    wait_for("server sees the refusal", lambda: campaign_device_state(c8) == "failed")
    check(agent.log_text().count("assigned v5") == 3, "v5 not tried a fourth time")
    err = [d for d in api.ok("GET", f"/api/v1/campaigns/{c8}")["devices"]
           if d["device_id"] == "dev1"][0]["error"]
    check("refused" in (err or ""), f"refusal reported to the server: {err!r}")
    check(active_sha() == sha(v4), "v4 still active")
    log("PASS")


if __name__ == "__main__":
    try:
        # A binary without `serve` is a broken build, not a reason to skip (no exit 77).
        try:
            serve_ok = subprocess.run([OXIDE, "serve", "--help"], capture_output=True,
                                      timeout=30).returncode == 0
        except OSError as e:
            serve_ok = False
            log(f"cannot run {OXIDE}: {e}")
        if not serve_ok:
            log(f"FAIL: `{OXIDE} serve` is missing or broken")
            sys.exit(1)
        main()
    except AssertionError as e:
        log(f"FAIL: {e}")
        for name in ("agent.log", "server.log"):
            p = os.path.join(WORK, name)
            if os.path.exists(p):
                with open(p) as f:
                    print(f"----- {name} (tail) -----\n" + "".join(f.readlines()[-60:]))
        sys.exit(1)
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(WORK, ignore_errors=True)
