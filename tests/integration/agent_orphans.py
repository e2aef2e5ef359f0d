#!/usr/bin/env python3
"""A killed agent leaves no health check running (real `oxide agent`, stdlib only).

usage: agent_orphans.py path/to/oxide

A minimal control plane (fake_control_plane.py, in this process) assigns one model. The agent's
health check is `sh -c 'echo $$ > pgfile; sleep 300 & wait'`: a process group of a shell and a
child. The agent is killed with SIGKILL while the check runs, so the group lives on, orphaned.
The restarted agent must kill that group before it runs the check again (this time a passing
one) and commits. Every wait polls observable state against a deadline.
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_control_plane import FakeControlPlane  # noqa: E402
from server_common import wait_until  # noqa: E402

OXIDE = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/oxide")
WORK = tempfile.mkdtemp(prefix="oxide-agent-orphans-")
MODEL = random.Random(7).randbytes(64 << 10)


def log(msg):
    print(f"[orphans {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def wait_for(what, pred, timeout=30.0):
    return wait_until(what, pred, timeout, 0.05)


def group_members(pgid):
    """Live (not zombie) processes of process group `pgid`."""
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(name))
    return members


def start_agent(url, health_check, log_path):
    cmd = [OXIDE, "agent", "--control-plane", url, "--device-id", "d1",
           "--model-dir", os.path.join(WORK, "models"), "--poll-interval", "0.2",
           "--health-check", health_check, "--health-timeout", "600",
           "--allow-unsigned-releases"]  # signing is tested in agent_signed_releases.py
    out = open(log_path, "w")
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)


def main():
    plane = FakeControlPlane()
    plane.models = {"v1": MODEL}
    plane.assigned = "v1"
    url = plane.url
    pgfile = os.path.join(WORK, "pgid")
    agent = start_agent(url, f"echo $$ > {pgfile}; sleep 300 & wait",
                        os.path.join(WORK, "agent1.log"))
    pgid = None
    try:
        pgid = wait_for("the health check to start",
                        lambda: os.path.exists(pgfile) and open(pgfile).read().strip() and
                        int(open(pgfile).read()))
        wait_for("the check's shell and sleep", lambda: len(group_members(pgid)) >= 2)
        log(f"health check running as process group {pgid}: {group_members(pgid)}")
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=30)
        if not group_members(pgid):
            raise AssertionError("the group died with the agent; nothing left to test")
        log(f"agent killed; group {pgid} orphaned: {group_members(pgid)}")

        log_path = os.path.join(WORK, "agent2.log")
        agent = start_agent(url, "exit 0", log_path)
        wait_for(f"group {pgid} to be killed", lambda: not group_members(pgid))
        log(f"ok: the restarted agent killed group {pgid}")
        wait_for("the commit", lambda: open(os.path.join(WORK, "models", "m"), "rb").read() == MODEL
                 if os.path.exists(os.path.join(WORK, "models", "m")) else False)
        text = open(log_path).read()
        if "health-check group" not in text:
            raise AssertionError("the restarted agent did not log the kill:\n" + text)
        log("ok: model committed after the orphaned check was killed")
    finally:
        if agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(timeout=30)
            except subprocess.TimeoutExpired:
                agent.kill()
        if pgid and group_members(pgid):
            os.killpg(pgid, signal.SIGKILL)
        plane.shutdown()
    shutil.rmtree(WORK, ignore_errors=True)
    log("PASS")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        log(f"FAIL: {e} (logs in {WORK})")
        sys.exit(1)
