#!/usr/bin/env python3
"""Capacity benchmark (not a test): `oxide simulate` against real `oxide serve` configurations.

    python3 bench/capacity.py --oxide build/oxide --backend sqlite --replicas 1 \
        --devices 10000 100000 --rate 20000 --duration 60

For every combination of --backend (sqlite, postgresql), --replicas (1, 2) and --devices, it
starts a fresh control plane (PostgreSQL: a throwaway cluster from scripts/pg_throwaway; two
replicas share the database and the blob directory), creates a fleet and its enrollment token,
and runs the simulator with a poll interval of devices / --rate seconds, so the offered load is
--rate heartbeats/s once every device has enrolled. It prints one table row per configuration:
the achieved heartbeats/s after enrolment, heartbeat latency p50/p99 (service time) and p99
from the due time (includes the wait when the server falls behind: quote that one), errors, and
the CPU the server processes used (in cores; the machine's cores are shared with the simulator).

A configuration that cannot run (no PostgreSQL binaries, a server that refuses --database, a
replica that does not start) ends the script with exit status 1 and says why; nothing is
skipped. A run with any error is marked in the table and also ends with exit status 1.
"""
import argparse
import json
import resource
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from server_common import ServerProcess  # noqa: E402

SERVE_FLAGS = ["--auth-rate-per-address", "0", "--heartbeat-rate-per-address", "0",
               "--heartbeat-rate-per-device", "0", "--max-connections-per-address", "0",
               "--log-level", "warn"]


class ConfigError(Exception):
    """A configuration that cannot run here."""


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_postgres(work):
    script = os.path.join(ROOT, "scripts", "pg_throwaway")
    p = subprocess.run([script, "start", work], capture_output=True, text=True)
    if p.returncode != 0:
        raise ConfigError("scripts/pg_throwaway start failed: " + p.stderr.strip()[-500:])
    return p.stdout.strip().splitlines()[-1]


def stop_postgres(work):
    subprocess.run([os.path.join(ROOT, "scripts", "pg_throwaway"), "stop", work],
                   capture_output=True, text=True)


def start_servers(oxide, work, backend, replicas):
    data = os.path.join(work, "data")
    extra = list(SERVE_FLAGS)
    if backend == "postgresql":
        extra += ["--database", start_postgres(work)]
    servers = []
    try:
        for n in range(replicas):
            try:
                servers.append(ServerProcess(oxide, data, os.path.join(work, "server%d.log" % n),
                                             extra=extra + ["--instance-id", "replica-%d" % n]
                                             if replicas > 1 else extra))
            except Exception as e:  # noqa: BLE001 - reported as the configuration's failure
                log = open(os.path.join(work, "server%d.log" % n)).read()[-800:]
                raise ConfigError("replica %d of %s did not start: %s\n%s" % (n, backend, e, log))
    except Exception:
        for s in servers:
            s.proc.kill()
        raise
    return servers


def run_config(args, backend, replicas, devices):
    work = tempfile.mkdtemp(prefix="oxide-capacity-")
    servers = []
    try:
        servers = start_servers(args.oxide, work, backend, replicas)
        first = servers[0]
        # Enrolling into a fleet costs O(members) on the SQLite store (its next `seq` is a MAX
        # over the fleet), so devices are spread over fleets of --fleet-size.
        fleets = max(1, -(-devices // args.fleet_size))
        cmd = [args.oxide, "simulate", "--devices", str(devices), "--poll-interval",
               "%g" % (devices / args.rate), "--duration", str(args.duration),
               "--concurrency", str(args.concurrency), "--json"]
        for f in range(fleets):
            first.json("POST", "/api/v1/fleets", {"id": "sim%d" % f, "name": "Sim %d" % f},
                       expect=201)
            cmd += ["--enrollment-token", first.enrollment_token("sim%d" % f)]
        poll = devices / args.rate
        for s in servers:
            cmd += ["--control-plane", "http://127.0.0.1:%d" % s.port]
        cpu0 = sum(cpu_seconds(s.proc.pid) for s in servers)
        t0 = time.monotonic()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        sim = subprocess.run(cmd, capture_output=True, text=True)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.monotonic() - t0
        cpu = sum(cpu_seconds(s.proc.pid) for s in servers) - cpu0
        if sim.returncode not in (0, 1) or not sim.stdout.strip():
            raise ConfigError("oxide simulate exit %d: %s" % (sim.returncode, sim.stderr[-500:]))
        r = json.loads(sim.stdout)
        r["server_cpu_cores"] = cpu / wall
        r["sim_cpu_cores"] = ((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)) / wall
        r["load_avg"] = os.getloadavg()[0]
        r["poll"] = poll
        shown = [c for c in cmd if not c.startswith("oxenr_") and c != "--enrollment-token"]
        r["command"] = " ".join(shown) + " --enrollment-token $TOKEN_1 ... $TOKEN_%d" % fleets
        return r
    finally:
        for s in servers:
            if s.proc.poll() is None:
                s.stop()
        if backend == "postgresql":
            stop_postgres(work)
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--oxide", required=True)
    ap.add_argument("--backend", nargs="+", default=["sqlite", "postgresql"],
                    choices=["sqlite", "postgresql"])
    ap.add_argument("--replicas", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--devices", nargs="+", type=int, default=[10000, 100000])
    ap.add_argument("--rate", type=float, default=20000,
                    help="offered heartbeats/s once enrolled (sets the poll interval)")
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--fleet-size", type=int, default=2000,
                    help="devices per fleet (one enrollment token each)")
    args = ap.parse_args()

    header = "%-10s %8s %8s %8s %8s %10s %12s %8s %8s %11s %7s %10s %8s %9s" % (
        "backend", "replicas", "devices", "enrolled", "poll s", "offered/s", "heartbeats/s",
        "p50 ms", "p99 ms", "due p99 ms", "errors", "server CPU", "sim CPU", "sim RSS")
    print(header)
    failed = False
    for backend in args.backend:
        for replicas in args.replicas:
            for devices in args.devices:
                try:
                    r = run_config(args, backend, replicas, devices)
                except ConfigError as e:
                    print("%-10s %8d %8d  CANNOT RUN: %s" % (backend, replicas, devices, e))
                    sys.stdout.flush()
                    failed = True
                    continue
                hb = r["kinds"]["heartbeat"]
                print("%-10s %8d %8d %8d %8g %10.0f %12.0f %8.2f %8.2f %11.2f %7d %9.2fc %7.2fc "
                      "%6.0fMiB" % (
                    backend, replicas, devices, r["enrolled"], r["poll"],
                    r["offered_heartbeats_per_s"], r["steady_heartbeats_per_s"], r["steady_p50_ms"],
                    r["steady_p99_ms"], r["steady_intended_p99_ms"], r["error_count"], r["server_cpu_cores"], r["sim_cpu_cores"],
                    r["peak_rss_kb"] / 1024))
                if r["enrolled"] < devices:
                    print("    only %d of %d devices enrolled within --duration: no steady-state "
                          "figure (lengthen --duration)" % (r["enrolled"], devices))
                    failed = True
                if r["error_count"]:
                    print("    errors: %s" % json.dumps(r["errors"]))
                    failed = True
                print("    %d heartbeats/s over %.0f s after enrolment; whole run: heartbeat p50 "
                      "%.1f ms p99 %.1f ms (from the due time p99 %.1f ms), scheduling lag p99 "
                      "%.1f ms, enroll p50 %.1f ms; load average %.1f" % (
                          r["steady_heartbeats_per_s"], r["steady_s"], hb["p50_ms"], hb["p99_ms"],
                          hb["intended_p99_ms"], r["schedule_lag_p99_ms"],
                          r["kinds"]["enroll"]["p50_ms"], r["load_avg"]))
                print("    %s" % r["command"])
                sys.stdout.flush()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
