#!/usr/bin/env python3
"""Integration: kill -9 `oxide serve` in the middle of uploads, registrations and campaigns.

After a restart on the same data dir: everything acknowledged is there (devices, fleets,
versions, campaigns, assignments, the patch queue), the blob dir holds only complete blobs
named by their SHA-256, and the interrupted upload left nothing visible.
"""
import argparse
import hashlib
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_common import ServerProcess, sha256, two_model_versions, wait_until  # noqa: E402


def slow_upload(port, token, path, total, sent_event, stop_event):
    """Sends headers announcing `total` bytes, then part of the body, and never finishes."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Content-Length: %d\r\n\r\n" % (path, token, total)).encode())
    chunk = os.urandom(1 << 20)
    for _ in range(8):
        s.sendall(chunk)
    sent_event.set()
    stop_event.wait(60)
    s.close()


def check_blob_dir(data):
    blobs = os.path.join(data, "blobs")
    for name in os.listdir(blobs):
        path = os.path.join(blobs, name)
        if name == ".tmp":
            assert os.listdir(path) == [], "temp files survived the restart: %s" % os.listdir(path)
            continue
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
        assert digest == name, "blob %s holds %s" % (name, digest)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxide", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="oxide-crash-")
    data = os.path.join(tmp, "data")
    log = os.path.join(tmp, "server.log")
    v1, v2 = two_model_versions(seed=11)

    # Round 1: build state, then die hard in the middle of an upload and a registration storm.
    srv = ServerProcess(args.oxide, data, log)
    srv.json("POST", "/api/v1/fleets", {"id": "f", "name": "F"}, expect=201)
    for i in range(5):
        srv.json("POST", "/api/v1/devices", {"id": "d%d" % i, "name": "D"}, expect=201)
        srv.json("POST", "/api/v1/fleets/f/devices/d%d" % i)
    srv.json("POST", "/api/v1/models/m/versions/v1", v1, expect=201)
    srv.json("POST", "/api/v1/models/m/versions/v2", v2, expect=201)
    camp = srv.json("POST", "/api/v1/campaigns",
                    {"model_id": "m", "model_version": "v2", "fleet_id": "f",
                     "strategy": "canary", "canary_percent": 40}, expect=201)
    srv.json("POST", "/api/v1/campaigns/%s/pause" % camp["id"])
    assigned = srv.json("POST", "/api/v1/devices/d0/heartbeat", {})["assignment"]
    assert assigned["version"] == "v2"

    sent, stop = threading.Event(), threading.Event()
    t = threading.Thread(target=slow_upload,
                         args=(srv.port, srv.token, "/api/v1/models/m/versions/huge", 64 << 20,
                               sent, stop))
    t.start()
    assert sent.wait(30)
    wait_until("the staged upload", lambda: os.listdir(os.path.join(data, "blobs", ".tmp")), 30)
    acked = []

    def storm():
        for i in range(200):
            try:
                st, _, _ = srv.request("POST", "/api/v1/devices", {"id": "s%d" % i, "name": "S"})
            except OSError:
                return
            if st == 201:
                acked.append("s%d" % i)

    s = threading.Thread(target=storm)
    s.start()
    wait_until("some acknowledged registrations", lambda: len(acked) >= 20, 30, 0.01)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    srv.log.close()
    stop.set()
    t.join()
    s.join()
    print("killed after %d acknowledged registrations" % len(acked))

    # Round 2: restart on the same data dir.
    srv = ServerProcess(args.oxide, data, log)
    check_blob_dir(data)
    for dev in acked + ["d%d" % i for i in range(5)]:
        srv.json("GET", "/api/v1/devices/" + dev)
    assert srv.json("GET", "/api/v1/fleets/f")["devices"] == ["d%d" % i for i in range(5)]
    versions = [v["version"] for v in srv.json("GET", "/api/v1/models/m")["versions"]]
    assert versions == ["v1", "v2"], versions
    st, _, _ = srv.request("GET", "/api/v1/models/m/versions/huge/meta")
    assert st == 404
    st, h, body = srv.request("GET", "/api/v1/models/m/versions/v2/download")
    assert st == 200 and sha256(body) == sha256(v2)
    detail = srv.json("GET", "/api/v1/campaigns/" + camp["id"])
    assert detail["state"] == "paused", detail["state"]
    assert srv.json("POST", "/api/v1/devices/d0/heartbeat", {})["assignment"] == assigned
    srv.json("POST", "/api/v1/campaigns/%s/resume" % camp["id"])

    # The patch queue survived too: v1 -> v2 gets prepared (or already was).
    def patch_state():
        meta = srv.json("GET", "/api/v1/models/m/versions/v2/meta")
        states = [p["state"] for p in meta["patches"] if p["base_version"] == "v1"]
        return states and states[0] != "pending" and states[0]
    assert wait_until("the v1 -> v2 patch", patch_state, 120, 0.2) == "ready"

    # Round 3: crash right after an acknowledged upload; its patch job must run after restart.
    v3 = two_model_versions(seed=12)[1]  # a valid model: cut or garbled ones are refused (422)
    up3 = srv.json("POST", "/api/v1/models/m/versions/v3", v3, expect=201)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    srv.log.close()
    srv = ServerProcess(args.oxide, data, log)
    check_blob_dir(data)
    meta = srv.json("GET", "/api/v1/models/m/versions/v3/meta")
    assert meta["sha256"] == up3["sha256"] == sha256(v3)

    def v3_patch():
        meta = srv.json("GET", "/api/v1/models/m/versions/v3/meta")
        states = [p["state"] for p in meta["patches"]]
        return states and "pending" not in states and states
    print("v3 patches after restart:", wait_until("the v2 -> v3 patch", v3_patch, 120, 0.2))
    rc, _ = srv.stop()
    assert rc == 0
    print("crash/restart OK")
    shutil.rmtree(tmp, ignore_errors=True)  # kept on failure for the logs


if __name__ == "__main__":
    main()
