#!/usr/bin/env python3
"""A read-only model dir costs one download, not one per poll (real `oxide agent`, stdlib only).

usage: agent_readonly_dir.py path/to/oxide

v1 is installed into a writable model dir. Then the agent runs in a private mount namespace
(`unshare -m`) where the model dir is bind-mounted read-only, and v2 is assigned with a 0.2 s
poll interval. Activation fails for a lasting local reason; before the fix the agent rolled back,
was re-assigned and downloaded the whole file again every poll (~45 times in 90 s). Now: over
15 s (75 polls) v2 is downloaded exactly once, v1 stays active, and the heartbeats report the
local fault and the wait ("local: ... next attempt in 30 s"). The unit test
src/agent/local_fault_test.cpp checks the growing backoff on a fake clock.

Needs root (a mount namespace); without it the test is skipped (exit 77).
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
WORK = tempfile.mkdtemp(prefix="oxide-agent-rodir-")
MODELS = os.path.join(WORK, "models")
STATE = os.path.join(WORK, "state")  # outside the read-only mount, same file system


def log(msg):
    print(f"[rodir {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def wait_for(what, pred, timeout=30.0):
    return wait_until(what, pred, timeout, 0.05)


def agent_cmd(url):
    return [OXIDE, "agent", "--control-plane", url, "--device-id", "d1", "--model-dir", MODELS,
            "--state-dir", STATE, "--poll-interval", "0.2",
            "--allow-unsigned-releases"]  # signing is tested in agent_signed_releases.py


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def main():
    if os.geteuid() != 0 or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        log("SKIP: needs root and unshare -m for a read-only bind mount")
        sys.exit(77)
    rng = random.Random(11)
    plane = FakeControlPlane()
    plane.models = {"v1": rng.randbytes(256 << 10), "v2": rng.randbytes(256 << 10)}
    os.makedirs(MODELS)
    os.makedirs(STATE)
    agent = None
    try:
        plane.assigned = "v1"
        agent = subprocess.Popen(agent_cmd(plane.url) + ["--once"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        if agent.wait(timeout=60) != 0:
            raise AssertionError("installing v1 failed")
        if read(os.path.join(MODELS, "m")) != plane.models["v1"]:
            raise AssertionError("v1 not installed")
        log("v1 installed")

        plane.assigned = "v2"
        script = ('mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && '
                  'exec "$@"')
        log_path = os.path.join(WORK, "agent.log")
        with open(log_path, "w") as out:
            agent = subprocess.Popen(["unshare", "-m", "sh", "-c", script, "sh", MODELS] +
                                     agent_cmd(plane.url), stdout=out, stderr=subprocess.STDOUT)
        wait_for("the local fault report", lambda: "local: " in plane.last_error())
        first = plane.last_error()
        log(f"reported: {first[:160]}")
        if "next attempt in 30 s" not in first:
            raise AssertionError("the report does not say when the next attempt is: " + first)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and agent.poll() is None:
            time.sleep(0.5)
        if agent.poll() is not None:
            raise AssertionError("the agent exited: " + open(log_path).read())
        sent = plane.bytes_sent.get("v2", 0)
        polls = len(plane.heartbeats)
        log(f"after 15 s: {polls} heartbeats, {sent} bytes of v2 sent ({len(plane.models['v2'])}"
            " per download)")
        if sent != len(plane.models["v2"]):
            raise AssertionError(f"v2 downloaded {sent / len(plane.models['v2']):.1f} times")
        if polls < 30:
            raise AssertionError(f"only {polls} heartbeats: the agent was not polling")
        if read(os.path.join(MODELS, "m")) != plane.models["v1"]:
            raise AssertionError("v1 is no longer the active model")
        if "local: " not in plane.last_error():
            raise AssertionError("the last heartbeat lost the local fault: " + plane.last_error())
        log("ok: one download in 15 s of polling; v1 active; local fault reported")
    finally:
        if agent is not None and agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(timeout=30)
            except subprocess.TimeoutExpired:
                agent.kill()
        plane.shutdown()
    shutil.rmtree(WORK, ignore_errors=True)
    log("PASS")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        log(f"FAIL: {e} (logs in {WORK})")
        sys.exit(1)
