#!/usr/bin/env python3
"""Integration (issue #12): `oxide simulate` against a real `oxide serve`.

300 simulated devices enrol into a fleet with its enrollment token and heartbeat every 0.5 s.
A model has two versions (the server builds the v1 -> v2 patch when v2 is pushed). Campaign 1
rolls v1 out: downloading devices fetch the full file (they run nothing yet), verify its SHA-256
in memory and report it; the others report it at once; 10 % report a failure. Campaign 2 rolls
v2 out: downloading devices now get the patch, rebuild v2 in memory from v1 (the bytes of v1's
first verified download, kept once) and verify it. Both campaigns end with every device terminal, and the server counts
exactly the failures the simulator reported. A run against a closed port exits 1 with its
errors counted.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_common import ServerProcess, two_model_versions, wait_until  # noqa: E402

DEVICES = 300
TERMINAL = {"completed", "completed_with_failures", "failed", "halted"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxide", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="oxide-simulate-")
    # One client address drives 300 devices: the per-address limits are for real fleets.
    srv = ServerProcess(args.oxide, os.path.join(tmp, "data"), os.path.join(tmp, "server.log"),
                        extra=["--auth-rate-per-address", "0", "--heartbeat-rate-per-address", "0",
                               "--max-connections-per-address", "0"])
    try:
        run(srv, args.oxide)
        closed_port(args.oxide)
    except Exception:
        sys.stderr.write(open(os.path.join(tmp, "server.log")).read()[-4000:])
        srv.proc.kill()
        raise
    rc, _ = srv.stop()
    assert rc == 0, "server exit code %d" % rc
    print("simulate integration OK")
    shutil.rmtree(tmp, ignore_errors=True)  # kept on failure for the logs


def campaign(srv, version):
    c = srv.json("POST", "/api/v1/campaigns",
                 {"model_id": "m", "model_version": version, "fleet_id": "sims"}, expect=201)
    assert len(c["devices"]) == DEVICES, len(c["devices"])
    done = wait_until("campaign %s to end" % version,
                      lambda: (lambda s: s if s["state"] in TERMINAL else None)(
                          srv.json("GET", "/api/v1/campaigns/" + c["id"])), timeout=60)
    return done


def run(srv, oxide):
    srv.json("POST", "/api/v1/fleets", {"id": "sims", "name": "Simulated"}, expect=201)
    token = srv.enrollment_token("sims")
    v1, v2 = two_model_versions()
    srv.json("POST", "/api/v1/models/m/versions/v1", v1, expect=201)
    srv.json("POST", "/api/v1/models/m/versions/v2", v2, expect=201)
    # The simulator sends no X-Oxide-Patch-Versions (an agent that reads version 2 only): the
    # v1 -> v2 patch is what it gets, never the one from the empty base listed beside it.
    wait_until("the v1 -> v2 patch", lambda: any(
        p["base_version"] == "v1" and p["state"] == "ready"
        for p in srv.json("GET", "/api/v1/models/m/versions/v2/meta")["patches"]))

    sim = subprocess.Popen(
        [oxide, "simulate", "--control-plane", "http://127.0.0.1:%d" % srv.port,
         "--devices", str(DEVICES), "--poll-interval", "0.5", "--duration", "120",
         "--download-fraction", "0.5", "--fail-fraction", "0.1", "--enrollment-token", token,
         "--fleet", "sims", "--concurrency", "32", "--json", "--seed", "12"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until("every simulated device enrolled", lambda: len(
            srv.json("GET", "/api/v1/fleets/sims")["devices"]) == DEVICES, timeout=30)
        c1 = campaign(srv, "v1")
        c2 = campaign(srv, "v2")
    finally:
        sim.send_signal(signal.SIGINT)  # ends the run early; the report is still printed
        out, err = sim.communicate(timeout=60)
    assert sim.returncode == 0, "simulate exit %d\n%s\n%s" % (sim.returncode, out, err)
    r = json.loads(out)
    print("simulator:", json.dumps({k: r[k] for k in (
        "enrolled", "assignments", "downloads_full", "downloads_patch", "bases_kept", "downloads_without_base",
        "installed", "installed_without_download", "failures_reported", "error_count")}))
    assert r["enrolled"] == DEVICES and r["error_count"] == 0, r
    for c in (c1, c2):
        s = c["summary"]
        assert s["complete"] + s["failed"] == DEVICES, s
        assert s["failed"] > 0 and c["state"] == "completed_with_failures", (c["state"], s)
    # Failing devices fail both campaigns: the server counted each report the simulator sent.
    assert c1["summary"]["failed"] + c2["summary"]["failed"] == r["failures_reported"], r
    assert r["installed"] == c1["summary"]["complete"] + c2["summary"]["complete"], r
    # Campaign 1: nothing to patch from, full files; campaign 2: patches from v1, kept once.
    assert r["downloads_full"] > 0 and r["downloads_patch"] > 0, r
    assert r["bases_kept"] == 2, r  # v1 from a full file, v2 rebuilt from a patch
    assert r["installed_without_download"] > 0, r
    assert c2["summary"]["bytes_saved"] > 0, c2["summary"]
    for kind in ("enroll", "heartbeat", "download", "report"):
        assert r["kinds"][kind]["count"] > 0 and r["kinds"][kind]["p99_ms"] > 0, (kind, r["kinds"])


def closed_port(oxide):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    url = "http://127.0.0.1:%d" % port
    p = subprocess.run([oxide, "simulate", "--control-plane", url, "--control-plane", url + "/",
                        "--devices", "5", "--poll-interval", "0.2", "--duration", "1", "--json"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    r = json.loads(p.stdout)
    assert r["error_count"] >= 5 and r["enrolled"] == 0 and r["control_planes"] == 2, r
    assert all(k.startswith("enroll: connect") for k in r["errors"]), r["errors"]
    bad = subprocess.run([oxide, "simulate", "--devices", "0", "--poll-interval", "1",
                          "--control-plane", "http://127.0.0.1:1"], capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad


if __name__ == "__main__":
    main()
