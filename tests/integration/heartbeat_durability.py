#!/usr/bin/env python3
"""Integration (issue #12): every acknowledged heartbeat survives kill -9 of `oxide serve`.

Heartbeats are group-committed (several requests share one SQLite transaction), so an answer
must only go out once the transaction holding that heartbeat committed. Eight clients heartbeat
their own devices as fast as the server answers, each with a new agent_version every time;
the server is killed with SIGKILL while they run. After a restart on the same data dir each
device shows the value of its last acknowledged heartbeat, or of the one still in flight at
the kill (sent, never answered: either outcome is allowed), never an older one.
"""
import argparse
import http.client
import json
import os
import signal
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_common import ServerProcess, wait_until  # noqa: E402

CLIENTS = 8
DEVICES_PER_CLIENT = 4


def client(port, token, devices, acked, in_flight, stop):
    """Heartbeats its devices round-robin on one keep-alive connection until the server dies."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    n = 0
    while not stop.is_set():
        dev = devices[n % len(devices)]
        value = "hb-%d" % n
        in_flight[dev] = value
        body = json.dumps({"status": "online", "agent_version": value,
                           "current_model": "m", "current_model_version": value})
        try:
            conn.request("POST", "/api/v1/devices/%s/heartbeat" % dev, body=body,
                         headers={"Authorization": "Bearer " + token,
                                  "Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException):
            return  # the server is gone: `value` stays in flight, unanswered
        if resp.status != 200:
            raise AssertionError("heartbeat %s -> %d" % (dev, resp.status))
        acked[dev] = value
        n += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxide", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="oxide-hb-durability-")
    data = os.path.join(tmp, "data")
    log = os.path.join(tmp, "server.log")
    # Eight clients on one address, as fast as they can: lift the abuse limits.
    unlimited = ["--heartbeat-rate-per-device", "0", "--heartbeat-rate-per-address", "0"]
    srv = ServerProcess(args.oxide, data, log, extra=unlimited)
    groups = []
    for c in range(CLIENTS):
        group = []
        for i in range(DEVICES_PER_CLIENT):
            dev = "c%d-d%d" % (c, i)
            srv.json("POST", "/api/v1/devices", {"id": dev, "name": dev}, expect=201)
            group.append(dev)
        groups.append(group)

    acked, in_flight, stop = {}, {}, threading.Event()
    threads = [threading.Thread(target=client, args=(srv.port, srv.token, g, acked, in_flight,
                                                     stop)) for g in groups]
    for t in threads:
        t.start()
    # Kill while every client is mid-stream: after plenty of acknowledged heartbeats.
    wait_until("heartbeats from every device",
               lambda: len(acked) == CLIENTS * DEVICES_PER_CLIENT, timeout=60, interval=0.01)
    total = lambda: sum(int(v.split("-")[1]) + 1 for v in list(acked.values()))  # noqa: E731
    start = total()
    wait_until("2000 more acknowledged heartbeats", lambda: total() >= start + 2000, timeout=120,
               interval=0.01)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(timeout=30)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    srv.log.close()
    print("killed after >= %d acknowledged heartbeats" % total())

    srv = ServerProcess(args.oxide, data, log, extra=unlimited)
    try:
        lost = []
        for group in groups:
            for dev in group:
                d = srv.json("GET", "/api/v1/devices/%s" % dev)
                got = d["agent_version"]
                if got not in (acked[dev], in_flight.get(dev)):
                    lost.append("%s: stored %s, acknowledged %s (in flight %s)" % (
                        dev, got, acked[dev], in_flight.get(dev)))
                if d["current_model_version"] != got:
                    lost.append("%s: half a heartbeat stored (%s vs %s)" % (
                        dev, d["current_model_version"], got))
        if lost:
            raise AssertionError("acknowledged heartbeats lost:\n" + "\n".join(lost))
        print("ok: %d devices, every acknowledged heartbeat stored" % len(acked))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
