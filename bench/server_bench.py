#!/usr/bin/env python3
"""Control-plane benchmark (not a test): `python3 bench/server_bench.py --oxide build/oxide`.

1. Heartbeats/s with 10,000 registered devices (all in one fleet with a running campaign, so
   each heartbeat also does campaign bookkeeping), measured with wrk + server_heartbeat.lua:
   throughput and p50/p99 latency.
2. Server RSS and thread count while 1,000 concurrent downloads of a model are each throttled
   to ~300 kbit/s by slow readers (asyncio client, small receive buffers).
Results go to stdout (copied into docs/benchmarks.md, "Control plane"). Every response that is not
2xx and every socket error (wrk's connect/read/write/timeout counts; a download that fails to
connect, gets a non-200 status or breaks off) is counted and reported; a run with any error ends
with an "ERRORS:" line and exit status 1, so its throughput figures are never quoted as clean.
"""
import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from server_common import ServerProcess  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def proc_stats(pid):
    rss = threads = 0
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])  # kB
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    fds = len(os.listdir("/proc/%d/fd" % pid))
    return rss, threads, fds


def cpu_seconds(pid):
    """utime + stime of the whole process, and of each thread ({tid: (name, seconds)})."""
    tick = os.sysconf("SC_CLK_TCK")

    def parse(path):
        with open(path) as f:
            text = f.read()
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        return name, (int(fields[11]) + int(fields[12])) / tick  # utime, stime

    total = parse("/proc/%d/stat" % pid)[1]
    threads = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            threads[int(tid)] = parse("/proc/%d/task/%s/stat" % (pid, tid))
        except OSError:
            pass  # the thread ended meanwhile
    return total, threads


def device_secret(i):
    """Each bench device's credential; server_heartbeat.lua builds the same string."""
    return "bench-secret-%010d-0123456789abcdef" % i


def register_devices(srv, n):
    """Enrolls dev-0..dev-(n-1) with the fleet's enrollment token: accepted into it at once."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", srv.port)
    srv.json("POST", "/api/v1/fleets", {"id": "bench", "name": "Bench"}, expect=201)
    token = srv.enrollment_token("bench")
    for i in range(n):
        body = json.dumps({"device_id": "dev-%d" % i, "secret": device_secret(i),
                           "enrollment_token": token})
        conn.request("POST", "/api/v1/enroll", body=body,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status
    conn.close()


def heartbeat_bench(srv, devices, seconds, connections, perf=None):
    register_devices(srv, devices)
    model = os.urandom(1 << 20)
    srv.json("POST", "/api/v1/models/m/versions/v1", model, expect=201)
    srv.json("POST", "/api/v1/models/m/versions/v2", model[:-4096] + os.urandom(4096), expect=201)
    srv.json("POST", "/api/v1/campaigns", {"model_id": "m", "model_version": "v2",
                                          "fleet_id": "bench", "strategy": "rolling",
                                          "batch_size": 500}, expect=201)
    env = dict(os.environ, OXIDE_DEVICES=str(devices))
    cmd = ["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "--latency",
           "-s", os.path.join(HERE, "server_heartbeat.lua"), "http://127.0.0.1:%d" % srv.port]
    recorder = None
    if perf:
        # Samples the server (not wrk) with call graphs while wrk runs: `perf report -i FILE`.
        recorder = subprocess.Popen(["perf", "record", "--call-graph", "dwarf,16384", "-F", "499", "-o", perf, "-p",
                                     str(srv.proc.pid), "--", "sleep", str(seconds)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    load_before = os.getloadavg()[0]
    cpu_before, threads_before = cpu_seconds(srv.proc.pid)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    cpu_after, threads_after = cpu_seconds(srv.proc.pid)
    load_after = os.getloadavg()[0]
    if recorder:
        recorder.wait()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    counts = re.search(r"^oxide-bench: (.*)$", out, re.M)
    if not counts:
        raise RuntimeError("wrk printed no oxide-bench summary line:\n" + out)
    c = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts.group(1))}
    rss, threads, _ = proc_stats(srv.proc.pid)
    # Load-independent cost: the server's CPU time over the run (all threads, user + system)
    # per answered heartbeat. Per thread, the busiest ones (the committer, the I/O threads).
    server_cpu = cpu_after - cpu_before
    per_thread = sorted(((after[1] - threads_before.get(tid, (None, 0.0))[1], tid, after[0])
                         for tid, after in threads_after.items()), reverse=True)
    return {"cmd": " ".join(cmd), "requests": c["requests"], "requests_per_s": rps,
            "server_cpu_s": round(server_cpu, 2),
            "server_cpu_us_per_request": round(server_cpu * 1e6 / max(c["requests"], 1), 1),
            "server_cpu_by_thread_s": ["%s/%d %.2f" % (name, tid, sec)
                                       for sec, tid, name in per_thread[:4] if sec > 0],
            "load_avg_1m": [round(load_before, 2), round(load_after, 2)],
            "p50": lat.get("50"), "p75": lat.get("75"), "p90": lat.get("90"), "p99": lat.get("99"),
            "non_2xx": c["non_2xx"], "first_bad_status": c["first_bad_status"],
            "socket_errors": {k: c[k] for k in ("connect", "read", "write", "timeout")},
            "rss_kb": rss, "threads": threads, "raw": out}


async def slow_download(port, token, path, rate_bps, deadline, stats, errors):
    try:
        await slow_download_once(port, token, path, rate_bps, deadline, stats)
    except Exception as e:  # counted and reported: a failed download is an error of the run
        errors.append("%s: %s" % (type(e).__name__, e))


async def slow_download_once(port, token, path, rate_bps, deadline, stats):
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, limit=8192)
    sock = writer.get_extra_info("socket")
    import socket
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    writer.write(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                  "X-Oxide-Device-Id: dev-1\r\n\r\n" % (path, token)).encode())
    await writer.drain()
    per_tick = max(1, rate_bps // 8 // 10)  # bytes per 100 ms
    got = 0
    head = b""
    while time.monotonic() < deadline:
        data = await reader.read(per_tick)
        if not data:
            break
        if len(head) < 16:
            head += data[:16]
            if len(head) >= 12 and not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError("status line %r" % head[:12])
        got += len(data)
        await asyncio.sleep(0.1)  # the throttle itself (benchmark client, not a test)
    if got == 0:
        raise RuntimeError("connection closed before any byte")
    stats.append(got)
    writer.close()


async def download_bench_async(srv, clients, seconds, rate_bps, path):
    stats, errors = [], []
    deadline = time.monotonic() + seconds
    tasks = [asyncio.create_task(slow_download(srv.port, srv.token, path, rate_bps, deadline, stats,
                                                 errors))
             for _ in range(clients)]
    samples = []
    while time.monotonic() < deadline:
        await asyncio.sleep(1)
        samples.append(proc_stats(srv.proc.pid))
    await asyncio.gather(*tasks)
    return stats, samples, errors


def download_bench(srv, clients, seconds, rate_bps, size_mb):
    model = os.urandom(size_mb << 20)
    srv.json("POST", "/api/v1/models/big/versions/v1", model, expect=201)
    idle = proc_stats(srv.proc.pid)
    stats, samples, errors = asyncio.run(download_bench_async(
        srv, clients, seconds, rate_bps, "/api/v1/models/big/versions/v1/download"))
    peak = max(samples, key=lambda s: s[0])
    total = sum(stats)
    return {"clients": clients, "seconds": seconds, "rate_kbps_per_client": rate_bps // 1000,
            "model_mb": size_mb, "idle_rss_kb": idle[0], "peak_rss_kb": peak[0],
            "threads": peak[1], "peak_fds": max(s[2] for s in samples),
            "aggregate_mbit_s": round(total * 8 / seconds / 1e6, 1),
            "per_client_kbit_s": round(total * 8 / seconds / max(1, len(stats)) / 1e3, 1),
            "completed_clients": len(stats), "failed_clients": len(errors),
            "first_errors": errors[:5]}


def health_bench(srv, seconds, connections):
    """The HTTP floor: GET /health (no store, no auth) with the same wrk settings, on the same
    server right after the heartbeat run, so the two figures share the machine's load."""
    cmd = ["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "--latency",
           "http://127.0.0.1:%d/health" % srv.port]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"cmd": " ".join(cmd), "requests_per_s": rps, "p50": lat.get("50"),
            "p99": lat.get("99"), "non_2xx": int(bad.group(1)) if bad else 0}


def run_errors(hb, dl):
    """Every error of the run, one line each; empty when it was clean."""
    problems = []
    if hb["non_2xx"]:
        problems.append("heartbeats: %d of %d responses were not 2xx (first status %d)" % (
            hb["non_2xx"], hb["requests"], hb["first_bad_status"]))
    sock = sum(hb["socket_errors"].values())
    if sock:
        problems.append("heartbeats: %d socket errors (%s)" % (sock, ", ".join(
            "%s %d" % kv for kv in hb["socket_errors"].items())))
    if dl["failed_clients"]:
        problems.append("downloads: %d of %d clients failed (%s)" % (
            dl["failed_clients"], dl["clients"], "; ".join(dl["first_errors"])))
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxide", required=True)
    ap.add_argument("--devices", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--downloads", type=int, default=1000, help="0: heartbeats only")
    ap.add_argument("--rate-bps", type=int, default=300_000)
    ap.add_argument("--model-mb", type=int, default=16)
    ap.add_argument("--perf", metavar="FILE",
                    help="record the server with `perf record --call-graph dwarf` during the heartbeat run")
    ap.add_argument("--health-seconds", type=int, default=0,
                    help="also measure GET /health (the HTTP floor) for this long after the heartbeats")
    ap.add_argument("--server-arg", action="append", default=[],
                    help="extra `oxide serve` argument (repeat), e.g. --server-arg=--log-level=warn")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="oxide-bench-")
    # Every client of the bench is 127.0.0.1 and it measures capacity, not abuse: lift the
    # per-address connection limit and the rate limits (docs/api.md "Limits").
    unlimited = ["--max-connections-per-address", "0", "--heartbeat-rate-per-device", "0",
                 "--heartbeat-rate-per-address", "0", "--auth-rate-per-address", "0"]
    srv = ServerProcess(args.oxide, os.path.join(tmp, "data"), os.path.join(tmp, "server.log"),
                        extra=unlimited + args.server_arg)
    try:
        hb = heartbeat_bench(srv, args.devices, args.seconds, args.connections, args.perf)
        print(hb.pop("raw"))
        print(json.dumps(hb, indent=2))
        if args.health_seconds > 0:
            print("health: " + json.dumps(health_bench(srv, args.health_seconds, args.connections)))
        dl = {"clients": 0, "failed_clients": 0}
        if args.downloads > 0:
            dl = download_bench(srv, args.downloads, args.seconds, args.rate_bps, args.model_mb)
            print(json.dumps(dl, indent=2))
    finally:
        srv.stop()
    problems = run_errors(hb, dl)
    if problems:
        print("ERRORS: " + " | ".join(problems))
        print("ERRORS: this run's figures are not clean", file=sys.stderr)
        sys.exit(1)
    print("errors: none (%d heartbeats all 2xx, 0 socket errors; %d downloads, 0 failed)" % (
        hb["requests"], args.downloads))


if __name__ == "__main__":
    main()
